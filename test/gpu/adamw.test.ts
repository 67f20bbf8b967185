// GPU only (scripts/gpu-check.sh): the CUDA fused AdamW against the CPU step on the same random data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, adamw } from '../../src';
import { randn, rmsRel } from '../helpers';

test('CUDA AdamW equals the CPU AdamW over several steps with changing hyper-parameters', () => {
  const sizes = [1, 3, 4097, 65536 * 2 + 5];
  const cpu = sizes.map((n, i) => ({ p: Tensor.from(randn(n, 10 + i), [n]), m: Tensor.zeros([n]), v: Tensor.zeros([n]) }));
  const gpu = cpu.map((c) => ({ p: c.p.to('cuda'), m: c.m.to('cuda'), v: c.v.to('cuda') }));
  for (let s = 1; s <= 5; s++) {
    const grads = sizes.map((n, i) => Tensor.from(randn(n, 100 * s + i), [n]));
    const hp = { lr: 1e-3 * s, beta1: 0.9, beta2: 0.99 - 0.001 * s, eps: 1e-8, weightDecay: 0.01 * s, step: s };
    adamw.step(cpu.map((c) => c.p), grads, cpu.map((c) => c.m), cpu.map((c) => c.v), hp);
    const g = grads.map((t) => t.to('cuda'));
    adamw.step(gpu.map((c) => c.p), g, gpu.map((c) => c.m), gpu.map((c) => c.v), hp); // routed to the CUDA kernel
  }
  cpu.forEach((c, i) => {
    assert.ok(rmsRel(c.p.toFloat32Array(), gpu[i].p.toFloat32Array()) < 1e-6, `param ${i}`);
    assert.ok(rmsRel(c.v.toFloat32Array(), gpu[i].v.toFloat32Array()) < 1e-6, `v ${i}`);
  });
});
