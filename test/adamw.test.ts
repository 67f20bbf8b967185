import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, adamw, setNumThreads, getNumThreads } from '../src';
import type { AdamWOptions } from '../src';
import { op } from '../src/native';
import { adamwStep } from '../src/reference';
import { assertClose, interopRequired, pythonWith, randn, runPython } from './helpers';

// Odd sizes on purpose: SIMD tails (1, 7, 15, 17, 33), a zero-size tensor, and one spanning several 32768-element
// blocks with a ragged end (65536 + 37).
const SHAPES: number[][] = [[1], [7], [3, 5], [16], [17], [0], [3, 11], [2, 0, 4], [65573], [5, 7, 3]];

// Hyper-parameters change every step, as with an LR schedule.
const SCHEDULE: Omit<AdamWOptions, 'step'>[] = [
  { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
  { lr: 3e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
  { lr: 5e-3, beta1: 0.95, beta2: 0.9, eps: 1e-8, weightDecay: 0 },
  { lr: 1e-1, beta1: 0.0, beta2: 0.5, eps: 1e-3, weightDecay: 0.5 },
  { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
];

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface State {
  p: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  grads: Float32Array[][]; // [step][tensor]
}

function makeState(seed: number, steps: number): State {
  const p = SHAPES.map((s, i) => randn(numel(s), seed + i));
  // Nonzero starting moments make the first step exercise every term.
  const m = SHAPES.map((s, i) => randn(numel(s), seed + 100 + i, 0.1));
  const v = SHAPES.map((s, i) => randn(numel(s), seed + 200 + i, 0.1).map((x) => x * x));
  const grads = Array.from({ length: steps }, (_, k) => SHAPES.map((s, i) => randn(numel(s), seed + 1000 * (k + 1) + i, 0.5)));
  return { p, m, v, grads };
}

/** The library's float64 AdamW (src/reference/adamw.ts, PyTorch's formula) over the whole schedule. */
function referenceAdamW(st: State, steps: number) {
  const p = st.p.map((a) => Float64Array.from(a));
  const m = st.m.map((a) => Float64Array.from(a));
  const v = st.v.map((a) => Float64Array.from(a));
  for (let k = 0; k < steps; k++) adamwStep(p, st.grads[k], m, v, { ...SCHEDULE[k % SCHEDULE.length], step: k + 1 });
  return { p, m, v };
}

function runReclin(st: State, steps: number) {
  const p = st.p.map((a, i) => Tensor.from(a, SHAPES[i]));
  const m = st.m.map((a, i) => Tensor.from(a, SHAPES[i]));
  const v = st.v.map((a, i) => Tensor.from(a, SHAPES[i]));
  for (let k = 0; k < steps; k++) {
    const g = st.grads[k].map((a, i) => Tensor.from(a, SHAPES[i]));
    adamw.step(p, g, m, v, { ...SCHEDULE[k % SCHEDULE.length], step: k + 1 });
    g.forEach((t) => t.dispose());
  }
  const out = { p: p.map((t) => t.toFloat32Array()), m: m.map((t) => t.toFloat32Array()), v: v.map((t) => t.toFloat32Array()) };
  [...p, ...m, ...v].forEach((t) => t.dispose());
  return out;
}

test('adamw.step matches the float64 PyTorch formula over steps with changing hyper-parameters', () => {
  const steps = 7;
  const st = makeState(11, steps);
  const ref = referenceAdamW(st, steps);
  const got = runReclin(st, steps);
  SHAPES.forEach((s, t) => {
    assert.equal(got.p[t].length, numel(s));
    if (numel(s) === 0) return;
    assertClose(`params[${t}] ${JSON.stringify(s)}`, ref.p[t], got.p[t], 1e-6);
    assertClose(`m[${t}]`, ref.m[t], got.m[t], 1e-6);
    assertClose(`v[${t}]`, ref.v[t], got.v[t], 1e-6);
  });
});

test('adamw.step: every SIMD path and thread count gives bit-identical results', () => {
  const useKernel = op<(name?: string) => string>('adamwUseKernel');
  const best = useKernel('auto');
  const kernels = best === 'avx512' ? ['avx512', 'avx2', 'scalar'] : best === 'avx2' ? ['avx2', 'scalar'] : ['scalar'];
  const threadsBefore = getNumThreads();
  const st = makeState(5, 3);
  let first: ReturnType<typeof runReclin> | undefined;
  try {
    for (const k of kernels) {
      for (const threads of [1, 2, 3]) {
        assert.equal(useKernel(k), k);
        setNumThreads(threads);
        const got = runReclin(st, 3);
        if (!first) first = got;
        else
          for (const key of ['p', 'm', 'v'] as const)
            got[key].forEach((a, t) => assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(first![key][t].buffer), `${k}, ${threads} threads, ${key}[${t}]`));
      }
    }
  } finally {
    useKernel('auto');
    setNumThreads(threadsBefore);
  }
  assert.throws(() => useKernel('sse9'), /kernel: 'sse9' is unknown or not supported/);
});

test('adamw.step: an empty list and zero-size tensors are fine', () => {
  adamw.step([], [], [], [], { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
  const z = () => Tensor.zeros([0, 3]);
  const ts = [z(), z(), z(), z()];
  adamw.step([ts[0]], [ts[1]], [ts[2]], [ts[3]], { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
  ts.forEach((t) => t.dispose());
});

test('adamw.step: bad input throws an error naming the argument', () => {
  const opts: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
  const t = (s: number[]) => Tensor.zeros(s);
  const p = [t([4]), t([2, 3])];
  const g = [t([4]), t([2, 3])];
  const m = [t([4]), t([2, 3])];
  const v = [t([4]), t([2, 3])];
  const call = (over: Partial<{ p: unknown; g: unknown; m: unknown; v: unknown; o: unknown }>) => () =>
    adamw.step((over.p ?? p) as Tensor[], (over.g ?? g) as Tensor[], (over.m ?? m) as Tensor[], (over.v ?? v) as Tensor[], ('o' in over ? over.o : opts) as AdamWOptions);

  assert.throws(call({ g: [g[0]] }), /grads: expected 2 tensors \(one per param\), got 1/);
  assert.throws(call({ v: [v[0], v[1], v[1]] }), /v: expected 2 tensors \(one per param\), got 3/);
  assert.throws(call({ m: [m[0], t([3, 2])] }), /m\[1\]: expected shape \[2,3\] \(the shape of params\[1\]\), got \[3,2\]/);
  assert.throws(call({ g: [g[0], t([6])] }), /grads\[1\]: expected shape \[2,3\]/);
  assert.throws(call({ p: [p[0], Tensor.zeros([2, 3], { dtype: 'i32' })] }), /params\[1\]: expected dtype f32, got i32/);
  assert.throws(call({ g: [g[0], Tensor.zeros([2, 3], { dtype: 'bf16' })] }), /grads\[1\]: expected dtype f32, got bf16/);
  assert.throws(call({ p: 'x' }), /params: expected an array of Tensors, got string/);
  assert.throws(call({ m: [m[0], new Float32Array(6)] }), /m\[1\]: expected a Tensor, got object/);
  assert.throws(call({ v: [p[0], v[1]] }), /v\[0\]: shares memory with another params\/m\/v tensor/);
  assert.throws(call({ g: [m[0], g[1]] }), /grads\[0\]: shares memory with a params\/m\/v tensor/);
  assert.throws(call({ o: { ...opts, step: 0 } }), /step: expected an integer >= 1, got 0/);
  assert.throws(call({ o: { ...opts, step: 1.5 } }), /step: expected an integer >= 1, got 1.5/);
  assert.throws(call({ o: { ...opts, beta1: 1 } }), /beta1: expected a number in \[0, 1\), got 1/);
  assert.throws(call({ o: { ...opts, beta2: -0.1 } }), /beta2: expected a number in \[0, 1\), got -0.1/);
  assert.throws(call({ o: { ...opts, lr: Number.NaN } }), /lr: expected a finite number >= 0, got NaN/);
  assert.throws(call({ o: { ...opts, eps: -1 } }), /eps: expected a finite number >= 0, got -1/);
  assert.throws(call({ o: { ...opts, weightDecay: undefined } }), /weightDecay: expected a finite number >= 0, got undefined/);
  assert.throws(call({ o: null }), /options: expected \{ lr, beta1, beta2, eps, weightDecay, step \}, got null/);
  const gone = t([4]);
  gone.dispose();
  assert.throws(call({ g: [gone, g[1]] }), /grads\[0\]: tensor was disposed/);
  // Nothing was updated by the failed calls.
  for (const x of [...p, ...m, ...v]) assert.ok(x.toFloat32Array().every((e) => e === 0));
  [...p, ...g, ...m, ...v].forEach((x) => x.dispose());
});

// PyTorch itself, when some Python at hand has it (CI does not install torch: the float64 reference above is the
// required check). Tries the usual interpreters, then the benchmark's venv (.bench/venv, made by npm run bench:cpu).
function pythonWithTorch(): string | undefined {
  const p = pythonWith(['torch', 'numpy']);
  if (p.python) return p.python;
  const bench = path.resolve(__dirname, '..', '.bench', 'venv', 'bin', 'python');
  if (!fs.existsSync(bench)) return undefined;
  try {
    runPython(bench, 'import torch, numpy');
    return bench;
  } catch {
    return undefined;
  }
}

const TORCH_SCRIPT = `
import json, sys, numpy as np, torch
d = sys.argv[1]
meta = json.load(open(d + '/meta.json'))
shapes, sched, steps = meta['shapes'], meta['schedule'], meta['steps']
def load(name, i, s):
    return torch.from_numpy(np.fromfile(f'{d}/{name}{i}.bin', dtype=np.float32).reshape(s).copy())
for fused in (False, True):
    params = [torch.nn.Parameter(load('p', i, s)) for i, s in enumerate(shapes)]
    opt = torch.optim.AdamW(params, fused=fused)
    for i, p in enumerate(params):  # start from our nonzero moments
        st = opt.state[p]
        st['step'] = torch.tensor(0.0)
        st['exp_avg'] = load('m', i, shapes[i])
        st['exp_avg_sq'] = load('v', i, shapes[i])
    for k in range(steps):
        h = sched[k % len(sched)]
        for grp in opt.param_groups:
            grp.update(lr=h['lr'], betas=(h['beta1'], h['beta2']), eps=h['eps'], weight_decay=h['weightDecay'])
        for i, p in enumerate(params):
            p.grad = load(f'g{k}_', i, shapes[i])
        opt.step()
    tag = 'fused' if fused else 'plain'
    for i, p in enumerate(params):
        p.detach().numpy().astype(np.float32).tofile(f'{d}/out_{tag}_p{i}.bin')
        opt.state[p]['exp_avg'].numpy().astype(np.float32).tofile(f'{d}/out_{tag}_m{i}.bin')
        opt.state[p]['exp_avg_sq'].numpy().astype(np.float32).tofile(f'{d}/out_{tag}_v{i}.bin')
`;

test('adamw.step matches torch.optim.AdamW (plain and fused) when PyTorch is available', (t) => {
  const py = pythonWithTorch();
  if (!py) {
    const why = 'needs Python with torch and numpy (e.g. after npm run bench:cpu, or RECLIN_PYTHON)';
    if (interopRequired) throw new Error(`${why}; RECLIN_REQUIRE_INTEROP=1 requires it`);
    t.skip(why);
    return;
  }
  const steps = 5;
  const st = makeState(23, steps);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-adamw-'));
  try {
    const write = (name: string, a: Float32Array) => fs.writeFileSync(path.join(dir, name), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    st.p.forEach((a, i) => write(`p${i}.bin`, a));
    st.m.forEach((a, i) => write(`m${i}.bin`, a));
    st.v.forEach((a, i) => write(`v${i}.bin`, a));
    st.grads.forEach((gs, k) => gs.forEach((a, i) => write(`g${k}_${i}.bin`, a)));
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ shapes: SHAPES, schedule: SCHEDULE, steps }));
    runPython(py, TORCH_SCRIPT, [dir]);
    const got = runReclin(st, steps);
    const read = (name: string) => {
      const b = fs.readFileSync(path.join(dir, name));
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    };
    for (const tag of ['plain', 'fused']) {
      SHAPES.forEach((s, i) => {
        if (numel(s) === 0) return;
        assertClose(`torch ${tag} params[${i}]`, read(`out_${tag}_p${i}.bin`), got.p[i], 1e-6);
        assertClose(`torch ${tag} m[${i}]`, read(`out_${tag}_m${i}.bin`), got.m[i], 1e-6);
        assertClose(`torch ${tag} v[${i}]`, read(`out_${tag}_v${i}.bin`), got.v[i], 1e-6);
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
