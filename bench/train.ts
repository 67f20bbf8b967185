// reclin side of `npm run bench:train` (started by bench/train.sh, which also runs the PyTorch side on the same
// token file and prints the comparison) and of the training row of scripts/gpu-check.sh. Trains a preset: batch
// B x T, AdamW (fused native step), global gradient-norm clipping at 1.0, every step inside a memory scope; then
// times inference (forward only). Prints one JSON line like bench/train_torch.py.
// --device cuda[:N] takes the path `reclin run --device cuda` takes (src/train/trainer.ts): model and AdamW state on
// the device, each step inside withDefaultDevice + ag.withPrecision (--precision bf16|fp32, default bf16 on CUDA),
// the clip decided on the device, the loss read once after the update is queued; the device is synchronised before
// each clock read. --device cpu (default) is fp32 only and unchanged.
import * as fs from 'node:fs';
import { type Device, KimiLinearLM, Tensor, adamw, ag, backward, loadModelConfig, noGrad, ops, scope, setNumThreads, syncCheck, withDefaultDevice } from '../src';

function arg(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}
const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '512'));
const steps = Number(arg('steps', '6'));
const warmup = Number(arg('warmup', '2'));
const devArg = arg('device', 'cpu');
if (devArg !== 'cpu' && !/^cuda(:\d+)?$/.test(devArg)) throw new RangeError(`--device: expected cpu, cuda or cuda:N, got ${JSON.stringify(devArg)}`);
const device = (devArg === 'cuda' ? 'cuda:0' : devArg) as Device;  // the name tensors report
const onCpu = device === 'cpu';
const precision = arg('precision', onCpu ? 'fp32' : 'bf16') as 'fp32' | 'bf16';
if (precision !== 'fp32' && precision !== 'bf16') throw new RangeError(`--precision: expected bf16 or fp32, got ${JSON.stringify(precision)}`);
if (onCpu && precision !== 'fp32') throw new RangeError('--precision: bf16 needs --device cuda (the CPU kernels compute in fp32)');
// --threads=auto keeps reclin's default policy (the team follows the cores other processes leave free).
if (arg('threads', '2') !== 'auto') setNumThreads(Number(arg('threads', '2')));

const tokens = new Int32Array(fs.readFileSync(arg('tokens', '.bench/train_tokens.bin')).buffer.slice(0));
const model = new KimiLinearLM(loadModelConfig(arg('config', 'tiny')), { seed: 0 });
if (!onCpu) model.to(device);
const params = model.parameters();
const m = params.map((p) => Tensor.zeros(p.data.shape, { device }));
const v = params.map((p) => Tensor.zeros(p.data.shape, { device }));
/** fn on the bench's device and precision (what the Trainer wraps each step and evaluation in). */
const here = <R>(fn: () => R): R => withDefaultDevice(device, () => ag.withPrecision(precision, fn));

/** Inputs [B, T] and, on a GPU, targets [B*T] (each row of T + 1 tokens shifted), uploaded before the clock starts. */
function batch(i: number): { ids: Tensor; targets: Tensor | null } {
  const n = B * (T + 1);
  const off = (i * n) % (tokens.length - n);
  const ids = new Int32Array(B * T); // on the CPU inputs only: model.loss shifts targets itself, so take T of each T+1 row
  for (let b = 0; b < B; b++) ids.set(tokens.subarray(off + b * (T + 1), off + b * (T + 1) + T), b * T);
  if (onCpu) return { ids: Tensor.from(ids, [B, T]), targets: null };
  // On a GPU as the Trainer does (targets made on the host, no read-back of ids inside the step) and as the PyTorch
  // side: T predictions per row.
  const tgt = new Int32Array(B * T);
  for (let b = 0; b < B; b++) tgt.set(tokens.subarray(off + b * (T + 1) + 1, off + (b + 1) * (T + 1)), b * T);
  return { ids: Tensor.from(ids, [B, T], { device }), targets: Tensor.from(tgt, [B * T], { device }) };
}
const V = model.config.vocab_size;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times: number[] = [];
const losses: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const { ids, targets } = batch(i);
  syncCheck(device);  // no-op on the CPU
  const t0 = performance.now();
  const loss = here(() => scope(() => {
    const l = targets ? ag.crossEntropy(ag.reshape(model.forward(ids), [B * T, V]), targets) : model.loss(ids);
    backward(l);
    // As the Trainer does: a parameter without a gradient (MoE's frozen router bias) is not stepped.
    const live = params.flatMap((p, j) => (p.grad ? [j] : []));
    const grads = live.map((j) => params[j].grad!);
    let loss = NaN;
    if (onCpu) {
      loss = l.data.toFloat32Array()[0];
      const norm = Math.sqrt(ops.sumSquares(grads));
      if (norm > 1) for (const g of grads) ops.scaleInPlace(g, 1 / norm);
    } else {
      ops.clipGradNorm(grads, 1);  // decided on the device, no wait
    }
    adamw.step(live.map((j) => params[j].data), grads, live.map((j) => m[j]), live.map((j) => v[j]), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: i + 1 });
    if (!onCpu) loss = l.data.toFloat32Array()[0];  // the step's one wait, after the update is queued
    return loss;
  }));
  for (const p of params) p.zeroGrad();
  syncCheck(device);
  const dt = performance.now() - t0;
  ids.dispose();
  targets?.dispose();
  losses.push(loss);
  if (i >= warmup) times.push(dt);
}
const infer: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const { ids, targets } = batch(i);
  targets?.dispose();
  syncCheck(device);
  const t0 = performance.now();
  here(() => noGrad(() => scope(() => void model.forward(ids))));
  syncCheck(device);
  if (i >= warmup) infer.push(performance.now() - t0);
  ids.dispose();
}
const nParams = params.reduce((s, p) => s + p.data.size, 0);
console.log(JSON.stringify({
  train_tokens_per_s: (B * T) / (median(times) / 1000),
  infer_tokens_per_s: (B * T) / (median(infer) / 1000),
  losses,
  params: nParams,
  device,
  precision,
}));
