// The mixture-of-experts FFN: native routing and routed experts (native/moe.cc) against the library's float64
// reference (src/reference/moe.ts, after transformers' kimi_linear router/experts), their backwards against
// float64 finite differences, and the KimiMoE layer against transformers' KimiLinearMoE itself (outputs and
// gradients).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, Var, ag, backward, getNumThreads, moe, scope, setNumThreads } from '../src';
import { KimiMoE, type KimiMoEConfig } from '../src/nn/moe';
import { assertClose, randn, requirePython, rmsRel, runPython } from './helpers';
import { type F64, assertSameBits, f64, fdGrad, rand, vals } from './ops-ref';
import { moeExperts as refExperts, moeLayer, moeRouterLogits as refLogits, moeScores as refScores, moeSelect as refSelect, moeWeights as refWeights } from '../src/reference';

// ---- float64 reference (src/reference/moe.ts) ------------------------------------------------------------

interface Route {
  topK: number;
  numGroups: number;
  topkGroup: number;
  renormalize: boolean;
  scale: number;
  activation: 'sigmoid' | 'softmax';
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

interface Dims {
  N: number;
  d: number;
  E: number;
  I: number;
  k: number;
}

/** The whole routed layer in float64: [x, routerWeight, gateUp, down] -> y (the shape fdGrad wants). */
function refMoe(xs: F64[], bias: F64 | null, D: Dims, r: Route): { y: F64; idx: Int32Array } {
  const { y, indices } = moeLayer({ x: xs[0], routerWeight: xs[1], gateUp: xs[2], down: xs[3], bias }, D, r);
  return { y, idx: indices };
}

/** Smallest gap between the last chosen and the best unchosen candidate (finite differences need it > h). */
function choiceMargin(s: F64, bias: F64 | null, idx: Int32Array, N: number, E: number, r: Route): number {
  let m = Infinity;
  const gs = E / r.numGroups;
  for (let n = 0; n < N; n++) {
    const choice = (e: number) => s[n * E + e] + (bias ? bias[e] : 0);
    const chosen = [...idx.subarray(n * r.topK, (n + 1) * r.topK)];
    const groups = new Set(chosen.map((e) => Math.floor(e / gs)));
    const last = Math.min(...chosen.map(choice));
    for (let e = 0; e < E; e++) if (!chosen.includes(e) && (r.topkGroup === r.numGroups || groups.has(Math.floor(e / gs)))) m = Math.min(m, last - choice(e));
  }
  return m;
}

const route = (p: Partial<Route> & { topK: number }): Route => ({ numGroups: 1, topkGroup: 1, renormalize: true, scale: 1, activation: 'sigmoid', ...p });

// ---- routing ---------------------------------------------------------------------------------------------

const ROUTES: { name: string; N: number; E: number; r: Route; bias: boolean }[] = [
  { name: 'E odd, sigmoid, bias', N: 37, E: 7, r: route({ topK: 3, scale: 2.446 }), bias: true },
  { name: 'grouped 4x3, 2 groups', N: 29, E: 12, r: route({ topK: 3, numGroups: 4, topkGroup: 2, scale: 1.5 }), bias: true },
  { name: 'grouped 3x3, 1 group', N: 13, E: 9, r: route({ topK: 2, numGroups: 3, topkGroup: 1 }), bias: false },
  { name: 'softmax, no renormalize', N: 23, E: 5, r: route({ topK: 2, renormalize: false, scale: 0.7, activation: 'softmax' }), bias: true },
  { name: 'top-1 of 1', N: 5, E: 1, r: route({ topK: 1 }), bias: false },
  { name: 'all experts', N: 11, E: 6, r: route({ topK: 6, numGroups: 2, topkGroup: 2, renormalize: false }), bias: true },
];

test('moeRoute matches the float64 router: scores, choice (bias only selects), groups, weights', () => {
  for (const c of ROUTES) {
    const l = rand([c.N, c.E], 11 + c.E, 1.5);
    const b = c.bias ? rand([c.E], 5, 0.3) : null;
    const got = moe.route(l.t, b ? b.t : null, c.r);
    const s = refScores(l.x, c.N, c.E, c.r.activation);
    const idx = refSelect(s, b ? b.x : null, c.N, c.E, c.r);
    assert.deepEqual([...got.indices.toInt32Array()], [...idx], `${c.name}: indices`);
    assertClose(`${c.name}: scores`, s, vals(got.scores), 1e-6);
    assertClose(`${c.name}: weights`, refWeights(s, idx, c.N, c.E, c.r), vals(got.weights), 1e-6);
  }
});

test('moeRoute breaks exact ties (experts and groups) toward the lower index', () => {
  // Row 0: all equal; row 1: equal pairs, and groups {0,1},{2,3} with equal two-best sums; row 2 likewise.
  const logits = Tensor.from([0, 0, 0, 0, 0, 0, 0.5, 1, 1, 0.5, 1, -1, 1, -1, -1, 1, 0.25, -0.5], [3, 6]);
  const flat = moe.route(logits, null, route({ topK: 2 }));
  assert.deepEqual([...flat.indices.toInt32Array()], [0, 1, 1, 2, 0, 3]);
  const grouped = moe.route(logits, null, route({ topK: 2, numGroups: 3, topkGroup: 1 }));
  assert.deepEqual([...grouped.indices.toInt32Array()], [0, 1, 1, 0, 0, 1]);
  const s = refScores(vals(logits), 3, 6, 'sigmoid');
  assert.deepEqual([...grouped.indices.toInt32Array()], [...refSelect(s, null, 3, 6, route({ topK: 2, numGroups: 3, topkGroup: 1 }))]);
  // A bias of equal entries changes nothing; a bias favouring expert 5 picks it though its score is lowest.
  const biased = moe.route(logits, Tensor.from([0, 0, 0, 0, 0, 5], [6]), route({ topK: 2 }));
  assert.deepEqual([...biased.indices.toInt32Array()].filter((_, i) => i % 2 === 0), [5, 5, 5]);
  const w = biased.weights.toFloat32Array();
  assert.ok(Math.abs(w[4] - sig(-0.5) / (sig(-0.5) + sig(1))) < 1e-6, 'the weight is the unbiased score, renormalised');
});

test('moeRouteBackward matches float64 finite differences (selection held fixed)', () => {
  for (const c of ROUTES) {
    const l = rand([c.N, c.E], 21 + c.E, 1.5);
    const got = moe.route(l.t, null, c.r);
    const idx = got.indices.toInt32Array();
    const dw = rand([c.N, c.r.topK], 3);
    const f = (xs: F64[]) => refWeights(refScores(xs[0], c.N, c.E, c.r.activation), idx, c.N, c.E, c.r);
    const dl = moe.routeBackward(dw.t, got.scores, got.indices, c.r);
    assertClose(`${c.name}: dLogits`, fdGrad(f, [l.x], dw.x, 0), vals(dl), 1e-6);
  }
});

test('moe ops refuse bad arguments by name', () => {
  const l = Tensor.zeros([4, 6]);
  assert.throws(() => moe.route(l, null, route({ topK: 7 })), /topK: expected 1\.\.6/);
  assert.throws(() => moe.route(l, null, route({ topK: 2, numGroups: 4 })), /numGroups: expected a divisor of the expert count 6, got 4/);
  assert.throws(() => moe.route(l, null, route({ topK: 4, numGroups: 3, topkGroup: 1 })), /topK: expected 1\.\.2/);
  assert.throws(() => moe.route(l, null, route({ topK: 1, numGroups: 6, topkGroup: 2 })), /numGroups: each group needs at least 2 experts/);
  assert.throws(() => moe.route(l, Tensor.zeros([5]), route({ topK: 1 })), /bias: expected shape \[E\] = \[6\], got \[5\]/);
  assert.throws(() => moe.route(l, null, { ...route({ topK: 1 }), activation: 'relu' as 'sigmoid' }), /activation: expected 'sigmoid' or 'softmax', got 'relu'/);
  const x = Tensor.zeros([4, 3]), gu = Tensor.zeros([2, 10, 3]), dn = Tensor.zeros([2, 3, 5]), w = Tensor.zeros([4, 1]);
  assert.throws(() => moe.experts(x, gu, dn, Tensor.from(new Int32Array([0, 1, 2, 0]), [4, 1]), w), /indices: entry 2 is 2, expected an expert index in 0\.\.1/);
  assert.throws(() => moe.experts(x, gu, Tensor.zeros([2, 3, 4]), Tensor.from(new Int32Array(4), [4, 1]), w), /down: expected shape \[E,d,I\] = \[2,3,5\], got \[2,3,4\]/);
  assert.throws(() => moe.experts(x, Tensor.zeros([2, 9, 3]), dn, Tensor.from(new Int32Array(4), [4, 1]), w), /gateUp: expected \[E,2I,3\]/);
  assert.throws(() => ag.moe(new Var(Tensor.zeros([1, 4, 3])), new Var(Tensor.zeros([2, 3])), new Var(gu), new Var(dn), route({ topK: 1 })), /moe: x must be \[N,d\]/);
});

// ---- routed experts --------------------------------------------------------------------------------------

function expertCase(D: Dims, seed: number, hot = -1) {
  const x = rand([D.N, D.d], seed);
  const gu = rand([D.E, 2 * D.I, D.d], seed + 1, 0.5);
  const dn = rand([D.E, D.d, D.I], seed + 2, 0.5);
  const w = rand([D.N, D.k], seed + 3);
  // Distinct experts per token; `hot` >= 0 sends every token's first slot there (a skewed load), and expert
  // E-1 is left unused when E > k + 1 (an empty segment).
  const idx = new Int32Array(D.N * D.k);
  const usable = D.E > D.k + 1 ? D.E - 1 : D.E;
  for (let n = 0; n < D.N; n++)
    for (let j = 0; j < D.k; j++) idx[n * D.k + j] = j === 0 && hot >= 0 ? hot : (n * 7 + j * 3 + (hot >= 0 ? 1 : 0)) % usable;
  for (let n = 0; n < D.N; n++) {
    const row = idx.subarray(n * D.k, (n + 1) * D.k);
    for (let j = 1; j < D.k; j++) while (row.subarray(0, j).includes(row[j])) row[j] = (row[j] + 1) % usable;
  }
  return { x, gu, dn, w, idx, idxT: Tensor.from(idx, [D.N, D.k]) };
}

const EXPERT_DIMS: Dims[] = [
  { N: 13, d: 6, E: 5, I: 7, k: 3 },
  { N: 1, d: 3, E: 1, I: 2, k: 1 },
  { N: 17, d: 9, E: 7, I: 5, k: 2 },
];

test('moeExperts matches the float64 experts (odd sizes, an unused expert, a skewed load)', () => {
  for (const D of EXPERT_DIMS)
    for (const hot of [-1, 0]) {
      const c = expertCase(D, 40 + D.N, hot);
      const got = moe.experts(c.x.t, c.gu.t, c.dn.t, c.idxT, c.w.t);
      assertClose(`experts ${JSON.stringify(D)} hot=${hot}`, refExperts(c.x.x, c.gu.x, c.dn.x, c.idx, c.w.x, D), vals(got.y), 1e-5);
    }
});

test('moeExpertsBackward matches float64 finite differences for x, gateUp, down and the weights', () => {
  for (const D of EXPERT_DIMS) {
    const c = expertCase(D, 60 + D.N, 1 % D.E);
    const dy = rand([D.N, D.d], 7);
    const f = (xs: F64[]) => refExperts(xs[0], xs[1], xs[2], c.idx, xs[3], D);
    const ins = [c.x.x, c.gu.x, c.dn.x, c.w.x];
    const fwd = moe.experts(c.x.t, c.gu.t, c.dn.t, c.idxT, c.w.t);
    const g = moe.expertsBackward(dy.t, c.x.t, c.gu.t, c.dn.t, c.idxT, c.w.t, fwd.h, fwd.ye);
    const tag = JSON.stringify(D);
    assertClose(`dx ${tag}`, fdGrad(f, ins, dy.x, 0), vals(g.dx), 1e-5);
    assertClose(`dGateUp ${tag}`, fdGrad(f, ins, dy.x, 1), vals(g.dGateUp), 1e-5);
    assertClose(`dDown ${tag}`, fdGrad(f, ins, dy.x, 2), vals(g.dDown), 1e-5);
    assertClose(`dWeights ${tag}`, fdGrad(f, ins, dy.x, 3), vals(g.dWeights), 1e-5);
  }
});

test('ag.moe: every gradient (router through the chosen weights) matches float64 finite differences', () => {
  const cases: { D: Dims; r: Route; seed: number }[] = [
    { D: { N: 11, d: 5, E: 7, I: 4, k: 3 }, r: route({ topK: 3, scale: 2.446 }), seed: 3 },
    { D: { N: 9, d: 4, E: 8, I: 3, k: 2 }, r: route({ topK: 2, numGroups: 4, topkGroup: 2, scale: 1.3 }), seed: 4 },
    { D: { N: 7, d: 4, E: 5, I: 3, k: 2 }, r: route({ topK: 2, activation: 'softmax', renormalize: false }), seed: 5 },
  ];
  for (const { D, r, seed } of cases) {
    const x = rand([D.N, D.d], seed);
    const wr = rand([D.E, D.d], seed + 1);
    const gu = rand([D.E, 2 * D.I, D.d], seed + 2, 0.5);
    const dn = rand([D.E, D.d, D.I], seed + 3, 0.5);
    const bias = rand([D.E], seed + 4, 0.2);
    const dy = rand([D.N, D.d], seed + 5);
    const ins = [x.x, wr.x, gu.x, dn.x];
    const { idx } = refMoe(ins, bias.x, D, r);
    const margin = choiceMargin(refScores(refLogits(x.x, wr.x, D.N, D.d, D.E), D.N, D.E, r.activation), bias.x, idx, D.N, D.E, r);
    assert.ok(margin > 1e-4, `test data: the choice must not sit on a tie (margin ${margin})`);
    scope(() => {
      const vs = [x, wr, gu, dn].map((t) => new Var(t.t, true));
      const y = ag.moe(vs[0], vs[1], vs[2], vs[3], { ...r, bias: bias.t });
      assertClose('ag.moe forward', refMoe(ins, bias.x, D, r).y, vals(y.data), 1e-5);
      backward(y, dy.t);
      ['x', 'routerWeight', 'gateUp', 'down'].forEach((name, i) => {
        assertClose(`${name} ${JSON.stringify(D)} ${r.activation}`, fdGrad((xs) => refMoe(xs, bias.x, D, r).y, ins, dy.x, i, 1e-6), vals(vs[i].grad!), 1e-5);
      });
    });
  }
});

test('moe forward and backward are bit-identical across runs and thread counts (both expert schedules)', () => {
  const prev = getNumThreads();
  try {
    for (const E of [3, 16]) {
      const D: Dims = { N: 301, d: 32, E, I: 24, k: 3 };
      const c = expertCase(D, 90 + E);
      const dy = rand([D.N, D.d], 9);
      const l = rand([D.N, E], 8);
      const run = (threads: number) => {
        setNumThreads(threads);
        const f = moe.experts(c.x.t, c.gu.t, c.dn.t, c.idxT, c.w.t);
        const g = moe.expertsBackward(dy.t, c.x.t, c.gu.t, c.dn.t, c.idxT, c.w.t, f.h, f.ye);
        const r = moe.route(l.t, null, route({ topK: 3 }));
        const dl = moe.routeBackward(c.w.t, r.scores, r.indices, route({ topK: 3 }));
        return [f.y, g.dx, g.dGateUp, g.dDown, g.dWeights, r.weights, dl].map((t) => t.toFloat32Array());
      };
      const a = run(2);
      const b = run(2);
      const one = run(1);
      a.forEach((t, i) => {
        assertSameBits(`E=${E} output ${i} (rerun)`, t, b[i]);
        assertSameBits(`E=${E} output ${i} (1 vs 2 threads)`, t, one[i]);
      });
      assertClose(`E=${E} experts vs float64`, refExperts(c.x.x, c.gu.x, c.dn.x, c.idx, c.w.x, D), f64(a[0]), 1e-5);
    }
  } finally {
    setNumThreads(prev);
  }
});

// ---- the layer against transformers ----------------------------------------------------------------------

const PARITY = String.raw`
import json, sys, torch
from transformers.models.kimi_linear.configuration_kimi_linear import KimiLinearConfig
from transformers.models.kimi_linear.modeling_kimi_linear import KimiLinearMoE
torch.set_num_threads(1)
out = []
for case in json.load(open(sys.argv[1])):
    c = case['config']
    kw = {k: v for k, v in c.items() if k not in ('moe_router_activation_func', 'initializer_range')}
    kw['routed_scaling_factor'] = float(kw['routed_scaling_factor'])  # the strict config refuses an int
    cfg = KimiLinearConfig(num_hidden_layers=2, **kw)
    m = KimiLinearMoE(cfg).float()
    m.load_state_dict({k: torch.tensor(v['data'], dtype=torch.float32).reshape(v['shape']) for k, v in case['weights'].items()}, strict=True)
    x = torch.tensor(case['x'], dtype=torch.float32).reshape(case['shape']).requires_grad_(True)
    y = m(x)
    (y * torch.tensor(case['dy'], dtype=torch.float32).reshape(y.shape)).sum().backward()
    grads = {n: p.grad.reshape(-1).tolist() for n, p in m.named_parameters() if p.grad is not None}
    out.append({'y': y.detach().reshape(-1).tolist(), 'dx': x.grad.reshape(-1).tolist(), 'grads': grads})
print(json.dumps(out))
`;

const base = { moe_renormalize: true, moe_router_activation_func: 'sigmoid', hidden_act: 'silu', initializer_range: 0.3 };
const PARITY_CASES: { cfg: KimiMoEConfig; shape: number[] }[] = [
  {
    cfg: { ...base, hidden_size: 12, moe_intermediate_size: 7, num_experts: 7, num_experts_per_token: 3, num_expert_group: 1, topk_group: 1, routed_scaling_factor: 2.446, num_shared_experts: 1 },
    shape: [2, 19, 12],
  },
  {
    cfg: { ...base, hidden_size: 10, moe_intermediate_size: 5, num_experts: 12, num_experts_per_token: 4, num_expert_group: 4, topk_group: 2, routed_scaling_factor: 1.5, num_shared_experts: 2 },
    shape: [3, 7, 10],
  },
  {
    cfg: { ...base, hidden_size: 8, moe_intermediate_size: 6, num_experts: 5, num_experts_per_token: 2, num_expert_group: 1, topk_group: 1, moe_renormalize: false, routed_scaling_factor: 1, num_shared_experts: 1 },
    shape: [1, 23, 8],
  },
];

test('KimiMoE matches transformers KimiLinearMoE: outputs, input and every parameter gradient', { timeout: 180_000 }, (t) => {
  const py = requirePython(['torch', 'transformers']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-moe-'));
  try {
    const layers = PARITY_CASES.map((c, i) => {
      const m = new KimiMoE('model.layers.1.mlp', c.cfg, { seed: 100 + i });
      // A non-zero correction bias, so the test sees it steer the choice (it is a buffer: set it directly).
      m.scoreBias.assign(Tensor.from(randn(c.cfg.num_experts, 200 + i, 0.05), [c.cfg.num_experts]));
      return m;
    });
    const inputs = PARITY_CASES.map((c, i) => ({ x: randn(c.shape.reduce((a, b) => a * b, 1), 300 + i), dy: randn(c.shape.reduce((a, b) => a * b, 1), 400 + i) }));
    const payload = PARITY_CASES.map((c, i) => ({
      config: c.cfg,
      shape: c.shape,
      x: [...inputs[i].x],
      dy: [...inputs[i].dy],
      weights: Object.fromEntries(layers[i].parameters().map((p) => [p.name.replace('model.layers.1.mlp.', ''), { shape: p.shape, data: [...p.data.toFloat32Array()] }])),
    }));
    const file = path.join(dir, 'cases.json');
    fs.writeFileSync(file, JSON.stringify(payload));
    const ref = JSON.parse(runPython(py.python, PARITY, [file])) as { y: number[]; dx: number[]; grads: Record<string, number[]> }[];
    PARITY_CASES.forEach((c, i) => {
      const m = layers[i];
      scope(() => {
        const x = new Var(Tensor.from(inputs[i].x, c.shape), true);
        const y = m.forward(x);
        const tag = `case ${i}`;
        assert.ok(rmsRel(ref[i].y, y.data.toFloat32Array()) <= 1e-4, `${tag} output: ${rmsRel(ref[i].y, y.data.toFloat32Array())}`);
        backward(y, Tensor.from(inputs[i].dy, c.shape));
        assertClose(`${tag} dx`, ref[i].dx, x.grad!.toFloat32Array(), 1e-3);
        for (const p of m.parameters()) {
          const name = p.name.replace('model.layers.1.mlp.', '');
          if (name === 'gate.e_score_correction_bias') {
            assert.equal(p.grad, null, 'the correction bias gets no gradient');
            assert.ok(!(name in ref[i].grads));
            continue;
          }
          assertClose(`${tag} ${name}`, ref[i].grads[name], p.grad!.toFloat32Array(), 1e-3);
        }
      });
      m.zeroGrad();
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('KimiMoE: transformers parameter names, published per-expert names, config refusals', () => {
  const cfg: KimiMoEConfig = { ...base, hidden_size: 4, moe_intermediate_size: 3, num_experts: 2, num_experts_per_token: 1, num_expert_group: 1, topk_group: 1, routed_scaling_factor: 1, num_shared_experts: 1 };
  const m = new KimiMoE('model.layers.3.mlp', cfg, { seed: 1 });
  assert.deepEqual(
    m.parameters().map((p) => `${p.name}:${p.shape.join('x')}`),
    [
      'model.layers.3.mlp.gate.weight:2x4',
      'model.layers.3.mlp.gate.e_score_correction_bias:2',
      'model.layers.3.mlp.experts.gate_up_proj:2x6x4',
      'model.layers.3.mlp.experts.down_proj:2x4x3',
      'model.layers.3.mlp.shared_experts.gate_proj.weight:3x4',
      'model.layers.3.mlp.shared_experts.up_proj.weight:3x4',
      'model.layers.3.mlp.shared_experts.down_proj.weight:4x3',
    ],
  );
  assert.equal(m.scoreBias.requiresGrad, false);
  const parts = m.publishedParts();
  assert.deepEqual(
    parts.map((p) => `${p.name}->${p.param.split('.mlp.')[1]}@${p.offset}:${p.shape.join('x')}`),
    [
      'model.layers.3.block_sparse_moe.gate.weight->gate.weight@0:2x4',
      'model.layers.3.block_sparse_moe.gate.e_score_correction_bias->gate.e_score_correction_bias@0:2',
      'model.layers.3.block_sparse_moe.experts.0.w1.weight->experts.gate_up_proj@0:3x4',
      'model.layers.3.block_sparse_moe.experts.0.w2.weight->experts.down_proj@0:4x3',
      'model.layers.3.block_sparse_moe.experts.0.w3.weight->experts.gate_up_proj@12:3x4',
      'model.layers.3.block_sparse_moe.experts.1.w1.weight->experts.gate_up_proj@24:3x4',
      'model.layers.3.block_sparse_moe.experts.1.w2.weight->experts.down_proj@12:4x3',
      'model.layers.3.block_sparse_moe.experts.1.w3.weight->experts.gate_up_proj@36:3x4',
      'model.layers.3.block_sparse_moe.shared_experts.gate_proj.weight->shared_experts.gate_proj.weight@0:3x4',
      'model.layers.3.block_sparse_moe.shared_experts.up_proj.weight->shared_experts.up_proj.weight@0:3x4',
      'model.layers.3.block_sparse_moe.shared_experts.down_proj.weight->shared_experts.down_proj.weight@0:4x3',
    ],
  );
  // Every parameter element is covered exactly once.
  const covered = new Map<string, number>();
  for (const p of parts) covered.set(p.param, (covered.get(p.param) ?? 0) + p.shape.reduce((a, b) => a * b, 1));
  for (const p of m.parameters()) assert.equal(covered.get(p.name), p.data.size, p.name);
  const noShared = new KimiMoE('mlp', { ...cfg, num_shared_experts: 0 }, { seed: 1 });
  assert.equal(noShared.shared_experts, null);
  assert.throws(() => new KimiMoE('mlp', { ...cfg, num_experts_per_token: 3 }, { seed: 1 }), /num_experts_per_token is 3, expected at most 2/);
  assert.throws(() => new KimiMoE('mlp', { ...cfg, num_expert_group: 3 }, { seed: 1 }), /num_expert_group is 3, expected a divisor of num_experts \(2\)/);
  assert.throws(() => new KimiMoE('mlp', { ...cfg, moe_router_activation_func: 'relu' }, { seed: 1 }), /moe_router_activation_func is "relu", expected 'sigmoid' or 'softmax'/);
  assert.throws(() => new KimiMoE('mlp', { ...cfg, hidden_act: 'gelu' }, { seed: 1 }), /hidden_act is "gelu", expected 'silu'/);
  assert.throws(() => m.forward(new Var(Tensor.zeros([2, 5]))), /expected input \[\.\.\., 4\], got \[2,5\]/);
});
