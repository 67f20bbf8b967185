// The Trainer's device and precision options on a machine without a GPU (the CUDA side is test/gpu/train.test.ts):
// names are checked, bf16 is refused on the CPU, and the scoped default device never leaks out of a step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM } from '../src/nn';
import { Trainer } from '../src/train';
import { TaskSource } from '../src/data';
import { Parameter, Tensor, Var, backward, getDefaultDevice, scope, withDefaultDevice } from '../src/tensor';
import { ag } from '../src';
import { CFG, recursiveSettings, trainerConfig, task } from './recursive-fixtures';

const make = (o: { device?: 'cpu' | 'cuda:x' | 'gpu'; precision?: 'fp32' | 'bf16' }) =>
  new Trainer({
    model: new KimiLinearLM(CFG, { seed: 1 }),
    recursive: recursiveSettings({ recursive_enabled: false }),
    config: trainerConfig({ phase: 'baseline', num_steps: 2 }),
    train: new TaskSource(task, 5),
    ...(o as object),
  });

test('device and precision are checked before anything is built', () => {
  assert.throws(() => make({ device: 'gpu' }), /device: unknown device "gpu" \(allowed: cpu, cuda, cuda:N\)/);
  assert.throws(() => make({ device: 'cuda:x' }), /device: unknown device "cuda:x"/);
  assert.throws(() => make({ precision: 'bf16' }), /precision: bf16 cannot run on device cpu \(the CPU kernels compute in fp32\)/);
});

test('a CPU trainer steps with every tensor on the CPU, and the default device is restored after a throw', () => {
  scope(() => {
    const t = make({});
    assert.equal(t.device, 'cpu');
    assert.equal(t.precision, 'fp32');
    const m = t.trainStep();
    assert.ok(Number.isFinite(m['train/loss']) && Number.isFinite(m['train/grad_norm']));
    assert.deepEqual(Object.keys(m).slice(0, 2), ['train/loss', 'train/grad_norm'], 'metric order');
    for (const v of t.checkpoint().optimizer.values()) assert.equal(v.device, 'cpu');
    t.dispose();
    t.model.dispose();
  });
  assert.throws(() => withDefaultDevice('cuda', () => ag.withPrecision('bf16', () => { throw new Error('inside'); })), /inside/);
  assert.equal(getDefaultDevice(), 'cpu');
  assert.equal(ag.getPrecision(), 'fp32');
  assert.equal(Tensor.zeros([1]).device, 'cpu');
  // bf16 KDA storage is CUDA only: on the CPU ag.kda keeps f32 even inside withPrecision('bf16')
  const z = (shape: number[], v = 0.1) => new Var(Tensor.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v), shape));
  const o = ag.withPrecision('bf16', () => ag.kda(z([1, 3, 1, 4]), z([1, 3, 1, 4]), z([1, 3, 1, 4]), z([1, 3, 1, 4], -0.1), z([1, 3, 1], 0.5)));
  assert.equal(o.o.data.dtype, 'f32');
  // so is the matmul: on the CPU the product inside withPrecision('bf16') is the fp32 one, bit for bit, and so are
  // its gradients (the CPU kernels compute in fp32; the Trainer refuses bf16 there)
  const r = (shape: number[], f: number) => Tensor.from(Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i * f) + 0.01 * i), shape);
  const run = (p: 'fp32' | 'bf16') => {
    const [x, w] = [new Parameter('x', r([5, 7], 1.3)), new Parameter('w', r([6, 7], 0.7))];
    const y = ag.withPrecision(p, () => ag.matmul(x, w, { transB: true }));
    ag.withPrecision(p, () => backward(ag.sum(ag.mul(y, y))));
    return [y.data, x.grad!, w.grad!].map((t) => [t.dtype, ...Array.from(t.toFloat32Array())]);
  };
  assert.deepEqual(run('bf16'), run('fp32'));
});
