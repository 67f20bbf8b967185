// reclin side of `npm run bench:train` (started by bench/train.sh, which also runs the PyTorch side on the same
// token file and prints the comparison). Trains the `tiny` preset: batch B x T, AdamW (fused native step), global
// gradient-norm clipping at 1.0, every step inside a memory scope; then times inference (forward only).
// Prints one JSON line like bench/train_torch.py.
import * as fs from 'node:fs';
import { KimiLinearLM, Tensor, adamw, backward, loadModelConfig, noGrad, ops, scope, setNumThreads } from '../src';

function arg(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}
const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '512'));
const steps = Number(arg('steps', '6'));
const warmup = Number(arg('warmup', '2'));
// --threads=auto keeps reclin's default policy (the team follows the cores other processes leave free).
if (arg('threads', '2') !== 'auto') setNumThreads(Number(arg('threads', '2')));

const tokens = new Int32Array(fs.readFileSync(arg('tokens', '.bench/train_tokens.bin')).buffer.slice(0));
const model = new KimiLinearLM(loadModelConfig(arg('config', 'tiny')), { seed: 0 });
const params = model.parameters();
const m = params.map((p) => Tensor.zeros(p.data.shape));
const v = params.map((p) => Tensor.zeros(p.data.shape));

function batch(i: number): Tensor {
  const n = B * (T + 1);
  const off = (i * n) % (tokens.length - n);
  const ids = new Int32Array(B * T); // inputs only: model.loss shifts targets itself, so take T of each T+1 row
  for (let b = 0; b < B; b++) ids.set(tokens.subarray(off + b * (T + 1), off + b * (T + 1) + T), b * T);
  return Tensor.from(ids, [B, T]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times: number[] = [];
const losses: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const ids = batch(i);
  const t0 = performance.now();
  const loss = scope(() => {
    const l = model.loss(ids);
    backward(l);
    return l.data.toFloat32Array()[0];
  });
  // As the Trainer does: a parameter without a gradient (MoE's frozen router bias) is not stepped.
  const live = params.flatMap((p, j) => (p.grad ? [j] : []));
  const grads = live.map((j) => params[j].grad!);
  const norm = Math.sqrt(ops.sumSquares(grads));
  if (norm > 1) for (const g of grads) ops.scaleInPlace(g, 1 / norm);
  adamw.step(live.map((j) => params[j].data), grads, live.map((j) => m[j]), live.map((j) => v[j]), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: i + 1 });
  for (const p of params) p.zeroGrad();
  const dt = performance.now() - t0;
  ids.dispose();
  losses.push(loss);
  if (i >= warmup) times.push(dt);
}
const infer: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const ids = batch(i);
  const t0 = performance.now();
  noGrad(() => scope(() => void model.forward(ids)));
  if (i >= warmup) infer.push(performance.now() - t0);
  ids.dispose();
}
const nParams = params.reduce((s, p) => s + p.data.size, 0);
console.log(JSON.stringify({
  train_tokens_per_s: (B * T) / (median(times) / 1000),
  infer_tokens_per_s: (B * T) / (median(infer) / 1000),
  losses,
  params: nParams,
}));
