// GPU only (scripts/gpu-check.sh): the Trainer on CUDA. Parameters, gradients, AdamW state and batches stay on the
// device; a few steps match the CPU trainer's metrics; a CPU checkpoint resumes on CUDA and a CUDA one on the CPU
// (the sidecar phases included, whose tensors are built on the fly); bf16 precision trains; checkpoints write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM } from '../../src/nn';
import { Trainer } from '../../src/train';
import { TaskSource } from '../../src/data';
import { Tensor, scope } from '../../src';
import { writeSafetensors } from '../../src/format';
import { CFG, recursiveSettings, trainerConfig, task } from '../recursive-fixtures';

type Phase = 'baseline' | 'a' | 'c';
function make(phase: Phase, device: 'cpu' | 'cuda', precision: 'fp32' | 'bf16' = 'fp32') {
  const model = new KimiLinearLM(CFG, { seed: 1 });
  return new Trainer({
    model,
    recursive: recursiveSettings({ recursive_enabled: phase !== 'baseline' }),
    config: trainerConfig({ phase, num_steps: 6 }),
    train: new TaskSource(task, 5),
    device,
    precision,
  });
}
const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a));

for (const phase of ['baseline', 'a', 'c'] as const) {
  test(`phase ${phase}: CUDA steps match the CPU trainer, and checkpoints move between devices`, () => {
    scope(() => {
      const cpu = make(phase, 'cpu');
      const gpu = make(phase, 'cuda');
      assert.equal(gpu.device, 'cuda:0');
      for (const n of gpu.trainableNames()) assert.ok(gpu.checkpoint().optimizer.get(`${n}.exp_avg`)!.device === 'cuda:0', `${n}: moments left the GPU`);
      for (let i = 0; i < 3; i++) {
        const a = cpu.trainStep();
        const b = gpu.trainStep();
        for (const k of ['train/loss', 'train/grad_norm']) assert.ok(close(a[k], b[k], 1e-3), `step ${i + 1} ${k}: cpu ${a[k]} cuda ${b[k]}`);
      }
      // CPU checkpoint -> CUDA trainer, CUDA checkpoint -> CPU trainer; both continue like the CPU run
      const fromCpu = make(phase, 'cuda');
      fromCpu.restore(cpu.checkpoint());
      const fromGpu = make(phase, 'cpu');
      fromGpu.restore(gpu.checkpoint());
      const ref = cpu.trainStep();
      for (const t of [fromCpu, fromGpu]) {
        const m = t.trainStep();
        assert.ok(close(ref['train/loss'], m['train/loss'], 1e-3), `${t.device} after restore: ${m['train/loss']} vs ${ref['train/loss']}`);
      }
      // a checkpoint of device tensors writes (each tensor copied to the host as it is written)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-gpu-train-'));
      const ck = gpu.checkpoint();
      const w = writeSafetensors(path.join(dir, 'opt.safetensors'), Object.fromEntries(ck.optimizer));
      assert.ok(w.bytes > 0);
      fs.rmSync(dir, { recursive: true, force: true });
      for (const t of [cpu, gpu, fromCpu, fromGpu]) {
        t.dispose();
        t.model.dispose();
      }
    });
  });
}

test('bf16 precision on CUDA trains (bf16 matmul inputs, KDA with bf16 storage) close to fp32; weights and grads stay f32', () => {
  scope(() => {
    const a = make('baseline', 'cuda', 'fp32');
    const b = make('baseline', 'cuda', 'bf16');
    for (let i = 0; i < 3; i++) {
      const x = a.trainStep()['train/loss'];
      const y = b.trainStep()['train/loss'];
      assert.ok(Number.isFinite(y) && close(x, y, 3e-2), `step ${i + 1}: fp32 ${x} bf16 ${y}`);
    }
    assert.ok(Tensor.from([1], [1]).device === 'cpu', 'the default device leaked out of the trainer');
    for (const p of b.model.parameters()) {
      assert.equal(p.data.dtype, 'f32', `${p.name}: the master weight stays f32`);
      if (p.grad) assert.equal(p.grad.dtype, 'f32', `${p.name}: its gradient is f32`);
    }
    for (const t of [a, b]) {
      t.dispose();
      t.model.dispose();
    }
  });
});
