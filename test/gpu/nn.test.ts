// GPU only (scripts/gpu-check.sh): the same model on CUDA and on the CPU gives the same logits and
// parameter gradients (Module.to moves the weights; every op routes by the device of its inputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM, Tensor, backward, noGrad, parseModelConfig, scope } from '../../src';
import { rmsRel, rng } from '../helpers';

test('KimiLinearLM on CUDA matches the CPU model: logits and parameter gradients', () => {
  const config = parseModelConfig({
    vocab_size: 37,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 3,
    linear_attn_config: { num_heads: 2, head_dim: 16, short_conv_kernel_size: 4, kda_layers: [1, 3], full_attn_layers: [2] },
  });
  const cpu = new KimiLinearLM(config, { seed: 1 });
  const gpu = new KimiLinearLM(config, { seed: 1 }).to('cuda');
  const r = rng(3);
  const [B, T] = [2, 80];
  const ids = Tensor.from(Int32Array.from({ length: B * T }, () => Math.floor(r() * 37)), [B, T]);
  const idsGpu = ids.to('cuda');
  const a = noGrad(() => scope(() => cpu.forward(ids).data.toFloat32Array()));
  const b = noGrad(() => scope(() => gpu.forward(idsGpu).data.toFloat32Array()));
  assert.ok(rmsRel(a, b) < 1e-4, `logits rmsRel ${rmsRel(a, b)}`);
  scope(() => backward(cpu.loss(ids)));
  scope(() => backward(gpu.loss(idsGpu)));
  const g = gpu.namedParameters();
  for (const p of cpu.parameters()) {
    const e = rmsRel(p.grad!.toFloat32Array(), g.get(p.name)!.grad!.toFloat32Array());
    assert.ok(e < 1e-3, `${p.name}: gradient rmsRel ${e}`);
  }
});
