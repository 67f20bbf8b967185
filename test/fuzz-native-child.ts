// The attacks of test/fuzz-native.test.ts, run in a child process so a crash or a hang is seen from outside.
// Usage: node --import tsx test/fuzz-native-child.ts <first attack index> <log file>
// Appends one line per attack to the log (written synchronously, so the parent knows which attack was running
// when the process died): `start <i> <name>` then `held <i>` or `broke <i> <why>`.
//
// An attack holds when the call either throws an Error with a clear message (not an opaque C++ one such as
// `reclin: stoi`) or returns well-formed results: tensor handles whose shapes are non-negative safe integers
// within the engine's limits (non-zero dimensions multiplying to at most 2^47; at most 2^47 bytes). The parent
// runs this under `ulimit -d` so that huge-but-legal allocations fail (the out-of-memory path) instead of
// eating the machine; attacks that would legally allocate 16 MiB to 8 GiB are not generated.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../src/native/loader';
import type { NativeTensor, RawBinding } from '../src/native/binding';
import { Tensor, ops, kda, adamw } from '../src/index';
import { writeSafetensors } from '../src/format/safetensors';

const b: RawBinding = native();
const raw = b as unknown as Record<string, (...a: unknown[]) => any>;

// ---- values ---------------------------------------------------------------------------------------------

const kMaxRealBytes = 1 << 24; // attacks never legally allocate more than this (16 MiB)
const kMaxBytes = 2n ** 47n;
const kMaxElements = 2n ** 47n;
const BIG_DIMS = [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62, 2 ** 64];
const BAD_NUMBERS = [NaN, 0.5, -1, -0.5, Infinity, -Infinity, 2 ** 53, 2 ** 62, 1e308, -(2 ** 63)];
const ODD_VALUES: unknown[] = [undefined, null, true, '3', 'abc', {}, [], [[1]], () => 1, Symbol('s'), 10n];

function esize(dtype: string): number {
  return dtype === 'bf16' ? 2 : 4;
}

/** BigInt byte size of a shape whose dims are all valid, else undefined. */
function bytesOf(shape: unknown, dtype = 'f32'): bigint | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1n;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= BigInt(d);
  }
  return n * BigInt(esize(dtype));
}

/** Shapes that would legally allocate a lot (more than kMaxRealBytes, within what ulimit may grant) are skipped. */
function tooRealToTry(shape: unknown, dtype = 'f32'): boolean {
  const n = bytesOf(shape, dtype);
  return n !== undefined && n > BigInt(kMaxRealBytes) && n <= 2n ** 33n;
}

const t = (shape: number[], dtype = 'f32', fill?: number): NativeTensor => {
  if (fill === undefined) return b.zeros(shape, dtype as 'f32', 'cpu');
  const n = shape.reduce((a, c) => a * c, 1);
  return dtype === 'i32' ? b.fromArray(new Int32Array(n).fill(fill), shape, 'i32', 'cpu') : b.fromArray(new Float32Array(n).fill(fill), shape, dtype as 'f32', 'cpu');
};
const disposed = (): NativeTensor => {
  const x = t([2]);
  x.dispose();
  return x;
};

// Hostile tensors: legal but awkward (zero-size with huge dims, 0-d, 64-d, wrong dtype), and disposed ones.
const HOSTILE_TENSORS: Array<[string, () => NativeTensor]> = [
  ['disposed', disposed],
  ['[0,2^47]', () => t([0, 2 ** 47])],
  ['[2^31+1,0]', () => t([2 ** 31 + 1, 0])],
  ['[2^31-1,0,2^16]', () => t([2 ** 31 - 1, 0, 2 ** 16])],
  ['[0]', () => t([0])],
  ['0-d', () => t([])],
  ['[1]*64', () => t(new Array(64).fill(1))],
  ['i32 [2,3]', () => t([2, 3], 'i32')],
  ['bf16 [2,3]', () => t([2, 3], 'bf16')],
  ['[7,1,3]', () => t([7, 1, 3])],
];

function hostileShapes(): unknown[] {
  const out: unknown[] = [
    [2 ** 62], [2 ** 30, 2 ** 32], [65536, 65536, 65536, 65536], [2 ** 62, 4], [2 ** 33], [2 ** 45], [2 ** 46, 2],
    [2 ** 53 - 1, 2], [2 ** 53], [-1], [NaN], [0.5], [Infinity], ['3'], [null], [[1]], [1e308], [2 ** 64, 0],
    new Array(65).fill(1), new Array(64).fill(2), 'abc', 7, null, undefined, {}, { length: 3 }, [0, 2 ** 53], [2 ** 53 - 1, 0],
  ];
  for (const d of BIG_DIMS) out.push([d], [d, 4], [4, d], [d, 0], [0, d, d]);
  return out.filter((s) => !tooRealToTry(s));
}

// ---- op specs: a valid call per op; attacks replace one argument at a time ------------------------------

interface Spec {
  op: string;
  args: () => unknown[];
  kinds: string[]; // per argument: t (tensor), tl (tensor list), shape, int, num, bool, str, opts, dev, data
  opts?: Record<string, unknown[]>; // option keys and hostile values for them
}

const f = (...s: number[]) => t(s);
const ids = (...s: number[]) => t(s, 'i32', 1);
const optNums = [NaN, 0.5, -1, 2 ** 53, 1e308, Infinity, '1', null, {}];

const SPECS: Spec[] = [
  { op: 'activation', args: () => [f(2, 3), 'silu'], kinds: ['t', 'str'] },
  { op: 'activationBackward', args: () => [f(2, 3), f(2, 3), 'sigmoid'], kinds: ['t', 't', 'str'] },
  { op: 'swiglu', args: () => [f(2, 3), f(2, 3)], kinds: ['t', 't'] },
  { op: 'swigluBackward', args: () => [f(2, 3), f(2, 3), f(2, 3)], kinds: ['t', 't', 't'] },
  {
    op: 'adamwStep',
    args: () => [[f(3)], [f(3)], [f(3)], [f(3)], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 }],
    kinds: ['tl', 'tl', 'tl', 'tl', 'opts'],
    opts: { lr: optNums, beta1: optNums, beta2: optNums, eps: optNums, weightDecay: optNums, step: optNums },
  },
  {
    op: 'causalAttention', args: () => [f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 3, 2, 4), {}], kinds: ['t', 't', 't', 'opts'],
    opts: { scale: optNums, probsBudget: optNums },
  },
  {
    op: 'causalAttentionBackward',
    args: () => [f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 2, 3), {}],
    kinds: ['t', 't', 't', 't', 't', 't', 'opts'],
    opts: { scale: optNums, probs: [f(18), f(17), f(2, 9), ids(18), 'x'] },
  },
  {
    op: 'mlaKV', args: () => [f(2, 3, 2, 5), f(2, 3, 4), { nope: 2, ropeStart: 1 }], kinds: ['t', 't', 'opts'],
    opts: { nope: [...optNums, 6, 2 ** 40], ropeStart: [...optNums, 5, 2 ** 40] },
  },
  {
    op: 'mlaKVBackward', args: () => [f(2, 3, 2, 5), f(2, 3, 2, 3), { nope: 2, ropeStart: 1, C: 4 }], kinds: ['t', 't', 'opts'],
    opts: { nope: [...optNums, 6, 2 ** 40], ropeStart: [...optNums, 2 ** 40 - 3], C: [...optNums, 2 ** 40] },
  },
  {
    op: 'mlaLatentNorm', args: () => [f(2, 3, 5), f(4), { rank: 4, eps: 1e-6 }], kinds: ['t', 't', 'opts'],
    opts: { rank: [...optNums, 6, 2 ** 40], eps: optNums },
  },
  {
    op: 'mlaLatentNormBackward', args: () => [f(2, 3, 4), f(2, 3, 5), f(4), f(2, 3), { rank: 4 }], kinds: ['t', 't', 't', 't', 'opts'],
    opts: { rank: [...optNums, 6, 2 ** 40], into: [f(2, 3, 4), f(2, 3, 5, 1), ids(30), 'x'] },
  },
  { op: 'shortConv', args: () => [f(2, 5, 3), f(3, 4)], kinds: ['t', 't'] },
  { op: 'shortConvBackward', args: () => [f(2, 5, 3), f(2, 5, 3), f(3, 4)], kinds: ['t', 't', 't'] },
  { op: 'binary', args: () => [f(2, 3), f(3), 'add'], kinds: ['t', 't', 'str'] },
  { op: 'unary', args: () => [f(2, 3), 'scale', 2], kinds: ['t', 'str', 'num'] },
  { op: 'full', args: () => [[2, 3], 1], kinds: ['shape', 'num'] },
  { op: 'copy', args: () => [f(2, 3)], kinds: ['t'] },
  { op: 'cast', args: () => [f(2, 3), 'bf16'], kinds: ['t', 'dtype'] },
  { op: 'addInPlace', args: () => [f(2, 3), f(2, 3), 1], kinds: ['t', 't', 'num'] },
  { op: 'scaleInPlace', args: () => [f(2, 3), 2], kinds: ['t', 'num'] },
  { op: 'copyInPlace', args: () => [f(2, 3), f(2, 3)], kinds: ['t', 't'] },
  { op: 'embedding', args: () => [f(5, 4), ids(2, 3)], kinds: ['t', 't'] },
  { op: 'embeddingBackward', args: () => [f(2, 3, 4), ids(2, 3), 5], kinds: ['t', 't', 'int'] },
  {
    op: 'kdaForward',
    args: () => [f(1, 5, 2, 4), f(1, 5, 2, 4), f(1, 5, 2, 3), f(1, 5, 2, 4), f(1, 5, 2), {}],
    kinds: ['t', 't', 't', 't', 't', 'opts'],
    opts: { scale: optNums, chunkSize: [...optNums, 16, 65], initialState: [f(1, 2, 4, 3), f(2, 2, 4, 3), t([0, 2 ** 47]), 'x'] },
  },
  {
    op: 'kdaBackward',
    args: () => [f(1, 5, 2, 4), f(1, 5, 2, 4), f(1, 5, 2, 3), f(1, 5, 2, 4), f(1, 5, 2), f(1, 5, 2, 3), {}],
    kinds: ['t', 't', 't', 't', 't', 't', 'opts'],
    opts: { scale: optNums, chunkSize: optNums, dFinalState: [f(1, 2, 4, 3), f(9), 'x'] },
  },
  {
    op: 'moeRoute',
    args: () => [f(3, 4), f(4), { topK: 2, numGroups: 1, topkGroup: 1, renormalize: true, scale: 1, activation: 'sigmoid' }],
    kinds: ['t', 't', 'opts'],
    opts: { topK: [...optNums, 0, 5], numGroups: [...optNums, 3], topkGroup: optNums, renormalize: [1, 'yes'], scale: optNums, activation: ['relu', 3] },
  },
  {
    op: 'moeRouteBackward',
    args: () => [f(3, 2), f(3, 4), ids(3, 2), { renormalize: true, scale: 1, activation: 'sigmoid' }],
    kinds: ['t', 't', 't', 'opts'],
    opts: { renormalize: [1, null], scale: optNums, activation: ['tanh', {}] },
  },
  { op: 'moeExperts', args: () => [f(3, 4), f(2, 6, 4), f(2, 4, 3), ids(3, 2), f(3, 2)], kinds: ['t', 't', 't', 't', 't'] },
  {
    op: 'moeExpertsBackward',
    args: () => [f(3, 4), f(3, 4), f(2, 6, 4), f(2, 4, 3), ids(3, 2), f(3, 2), f(6, 6), f(6, 4)],
    kinds: ['t', 't', 't', 't', 't', 't', 't', 't'],
  },
  { op: 'crossEntropy', args: () => [f(3, 5), ids(3), {}], kinds: ['t', 't', 'opts'], opts: { ignoreIndex: optNums } },
  { op: 'crossEntropyBackward', args: () => [f(3), f(3, 5), ids(3), f(3), {}], kinds: ['t', 't', 't', 't', 'opts'], opts: { ignoreIndex: optNums } },
  { op: 'matmul', args: () => [f(2, 3), f(3, 4), {}], kinds: ['t', 't', 'opts'], opts: { transA: [1, 'yes', NaN], transB: [1, null], alpha: optNums } },
  {
    op: 'matmulAccumulate', args: () => [f(2, 4), f(2, 3), f(3, 4), {}], kinds: ['t', 't', 't', 'opts'],
    opts: { transA: [1, 'yes', NaN], transB: [1, null], alpha: optNums },
  },
  { op: 'rmsnorm', args: () => [f(2, 3), f(3), 1e-6], kinds: ['t', 't', 'num'] },
  { op: 'rmsnormBackward', args: () => [f(2, 3), f(2, 3), f(3), f(2)], kinds: ['t', 't', 't', 't'] },
  { op: 'l2norm', args: () => [f(2, 3), 1e-6], kinds: ['t', 'num'] },
  { op: 'l2normBackward', args: () => [f(2, 3), f(2, 3), f(2)], kinds: ['t', 't', 't'] },
  { op: 'sumDims', args: () => [f(2, 3), [1], false, false], kinds: ['t', 'dims', 'bool', 'bool'] },
  { op: 'sumToShape', args: () => [f(2, 3), [3]], kinds: ['t', 'shape'] },
  { op: 'sumSquares', args: () => [[f(2, 3), f(4)]], kinds: ['tl'] },
  { op: 'softmax', args: () => [f(2, 3)], kinds: ['t'] },
  { op: 'argmax', args: () => [f(2, 3)], kinds: ['t'] },
  { op: 'concat', args: () => [[f(2, 3), f(1, 3)], 0], kinds: ['tl', 'int'] },
  { op: 'slice', args: () => [f(4, 3), 0, 1, 3], kinds: ['t', 'int', 'int', 'int'] },
  { op: 'sliceBackward', args: () => [f(2, 3), [4, 3], 0, 1], kinds: ['t', 'shape', 'int', 'int'] },
  { op: 'sliceAccumulate', args: () => [f(4, 3), f(2, 3), 0, 1], kinds: ['t', 't', 'int', 'int'] },
  { op: 'transpose', args: () => [f(2, 3, 4), 0, 2], kinds: ['t', 'int', 'int'] },
  { op: 'fromArray', args: () => [new Float32Array(6), [2, 3], 'f32', 'cpu'], kinds: ['data', 'shape', 'dtype', 'dev'] },
  { op: 'zeros', args: () => [[2, 3], 'f32', 'cpu'], kinds: ['shape', 'dtype', 'dev'] },
  { op: 'toDevice', args: () => [f(2, 3), 'cpu'], kinds: ['t', 'dev'] },
  { op: 'reshape', args: () => [f(2, 3), [3, 2]], kinds: ['t', 'shape'] },
  { op: 'storageShared', args: () => [f(2, 3)], kinds: ['t'] },
  { op: 'setNumThreads', args: () => [1], kinds: ['int'] },
  { op: 'memory', args: () => [], kinds: [] },
  { op: 'getNumThreads', args: () => [], kinds: [] },
  { op: 'buildInfo', args: () => [], kinds: [] },
  { op: 'gemmKernel', args: () => [], kinds: [] },
  { op: 'kdaIsa', args: () => [], kinds: [] },
  { op: 'vecKernel', args: () => [], kinds: [] },
  { op: 'cpuFeatures', args: () => [], kinds: [] },
  { op: 'threadInfo', args: () => [], kinds: [] },
  { op: 'adamwUseKernel', args: () => ['auto'], kinds: ['str'] },
];

const DEVICES = ['cuda', 'cuda:0', 'cuda:1', 'cuda:15', 'cuda:16', 'cuda:-1', 'cuda:99999999999', 'cuda:1e3', 'cuda:', 'gpu', '', 'CPU', 'cpu:0', 7];
const DTYPES = ['f64', 'int8', '', 'F32', 3, null];

function hostileFor(kind: string): Array<[string, () => unknown]> {
  const out: Array<[string, () => unknown]> = [];
  const val = (name: string, v: unknown) => out.push([name, () => v]);
  for (const v of ODD_VALUES) val(`odd ${describe(v)}`, v);
  for (const v of BAD_NUMBERS) val(`number ${v}`, v);
  if (kind === 't' || kind === 'tl') for (const [n, mk] of HOSTILE_TENSORS) out.push([`tensor ${n}`, kind === 't' ? mk : () => [mk()]]);
  if (kind === 'tl') {
    val('[]', []);
    out.push(['list of four [0,2^47]', () => [0, 1, 2, 3].map(() => t([0, 2 ** 47]))]);
    out.push(['list with a hole', () => [t([2]), 5]]);
  }
  if (kind === 'shape' || kind === 'dims') for (const s of hostileShapes()) val(`shape ${describe(s)}`, s);
  if (kind === 'int' || kind === 'num') for (const d of BIG_DIMS) val(`big ${d}`, d);
  if (kind === 'dev') for (const d of DEVICES) val(`device ${String(d)}`, d);
  if (kind === 'dtype') for (const d of DTYPES) val(`dtype ${String(d)}`, d);
  if (kind === 'data') {
    val('Int32Array', new Int32Array(6));
    val('short Float32Array', new Float32Array(5));
    val('Float64Array', new Float64Array(6));
    out.push(['detached-size view', () => new Float32Array(new ArrayBuffer(64), 8, 6)]);
  }
  if (kind === 'str') for (const s of ['', 'nope', 'constructor', '__proto__', 'x'.repeat(10000)]) val(`string ${s.slice(0, 12)}`, s);
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v;
  if (typeof v === 'bigint') return `${v}n`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

// ---- attacks ----------------------------------------------------------------------------------------------

interface Attack {
  name: string;
  run: () => unknown;
  /** The error message an attack must throw (regressions), or 'returns' when it must not throw; without it,
   * a clear error or a sane result holds. */
  expect?: RegExp | 'returns';
}
const attacks: Attack[] = [];
const add = (name: string, run: () => unknown, expect?: RegExp | 'returns') => attacks.push({ name, run, expect });

// The regression classes of issue 9 item 1 and its messages, through the public API.
add('regress scale(zeros([2^62]))', () => ops.scale(Tensor.zeros([2 ** 62]), 2), /shape: dimension 0 must be a non-negative integer at most 2\^53-1/);
add('regress full([2^62])', () => ops.full([2 ** 62], 1), /^full: shape: dimension 0 must be a non-negative integer at most 2\^53-1/);
add('regress exp([2^30,2^32])', () => ops.exp(Tensor.zeros([2 ** 30, 2 ** 32])), /^zeros: shape \[1073741824,4294967296\] has more than 2\^47 elements/);
add('regress softmax([2^62,4])', () => ops.softmax(Tensor.zeros([2 ** 62, 4])), /dimension 0 must be a non-negative integer/);
add('regress rmsnorm([2^62,4])', () => ops.rmsnorm(Tensor.zeros([2 ** 62, 4]), null, 1e-6), /dimension 0 must be a non-negative integer/);
add('regress embedding([2^62,4])', () => ops.embedding(Tensor.zeros([2 ** 62, 4]), Tensor.from(new Int32Array([0]), [1])), /dimension 0 must be a non-negative integer/);
add('regress matmul([2^62,4])', () => ops.matmul(Tensor.zeros([2 ** 62, 4]), Tensor.zeros([4, 4])), /dimension 0 must be a non-negative integer/);
add('regress zeros([65536]*4)', () => Tensor.zeros([65536, 65536, 65536, 65536]), /^zeros: shape \[65536,65536,65536,65536\] has more than 2\^47 elements/);
add('regress concat(4 x [2^62,2])', () => ops.concat([0, 1, 2, 3].map(() => Tensor.zeros([2 ** 62, 2])), 0), /dimension 0 must be a non-negative integer/);
add('regress concat of zero-size tensors past 2^53', () => ops.concat([0, 1, 2, 3].map(() => Tensor.zeros([2 ** 46, 0])), 0), /^concat: size along dim: .* is above 2\^47/);
add('regress writeSafetensors of a [2^62] tensor', () => {
  const file = path.join(os.tmpdir(), `reclin-fuzz-${process.pid}.safetensors`);
  try {
    writeSafetensors(file, { w: { dtype: 'F32', shape: [2 ** 62], data: new Float32Array(4) } });
  } finally {
    fs.rmSync(file, { force: true });
  }
}, /shape/);
add('regress reshape of a zero-size tensor past 2^53', () => {
  const x = Tensor.zeros([2 ** 40, 0]);
  return x.reshape([0, 2 ** 53]);
}, /^reshape: shape \[0,9007199254740992\]|dimension 1 must be a non-negative integer at most 2\^53-1/);
add('regress sum dim NaN', () => ops.sum(Tensor.zeros([2, 3]), { dim: NaN }), /^dim: expected an integer within \+-\(2\^53-1\), got nan/i);
add('regress sum dim 0.5', () => ops.sum(Tensor.zeros([2, 3]), { dim: 0.5 }), /^dim: expected an integer within \+-\(2\^53-1\), got 0.5/);
add('regress mean dim [0, 1e300]', () => ops.mean(Tensor.zeros([2, 3]), { dim: [0, 1e300] }), /^dim: expected an integer/);
add('regress device cuda:99999999999', () => Tensor.zeros([2], { device: 'cuda:99999999999' as 'cuda' }), /device: 'cuda:99999999999' is out of range \(device indices run from 0 to 15\)/);
add('regress allocation failure', () => Tensor.zeros([2 ** 40]), /^zeros: out of memory allocating \[1099511627776\] f32 \(4398046511104 bytes\) on cpu/);
add('regress Tensor.from huge shape', () => Tensor.from(new Float32Array(4), [2 ** 62, 4]), /dimension 0 must be a non-negative integer/);
add('regress reshape to an overflowing shape', () => Tensor.zeros([0]).reshape([2 ** 32, 2 ** 32, 0, 2 ** 32]), /^reshape: shape \[4294967296,4294967296,0,4294967296\] has more than 2\^47 elements/);
add('regress kda on [1,2^31+1,1,1] zero batch', () => {
  const z = (...s: number[]) => Tensor.zeros(s);
  return kda.forward(z(0, 2 ** 31 + 1, 1, 4), z(0, 2 ** 31 + 1, 1, 4), z(0, 2 ** 31 + 1, 1, 4), z(0, 2 ** 31 + 1, 1, 4), z(0, 2 ** 31 + 1, 1));
}, /^q: T = 2147483649 is above 2147483647/);
add('regress adamw on a zero-size huge-dim param', () => {
  const z = () => Tensor.zeros([0, 2 ** 47]);
  adamw.step([z()], [z()], [z()], [z()], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
});

// Every export of this binary has a spec (a new RECLIN_EXPORT must be added above). CUDA builds add twins
// and runtime exports that need a device; they are checked on GPU machines (test/gpu), not here.
add('every export is attacked', () => {
  const covered = new Set(SPECS.map((s) => s.op));
  const missing = Object.keys(b).filter((k) => typeof raw[k] === 'function' && k !== 'NativeTensor' && !covered.has(k) && !/Cuda$|^cuda/.test(k));
  if (missing.length) throw new TypeError(`exports without a fuzz spec: ${missing.join(', ')}`);
}, 'returns');

// Every raw op: its valid call, then one argument (or option) at a time replaced by a hostile value.
for (const spec of SPECS) {
  add(`${spec.op} valid`, () => raw[spec.op](...spec.args()));
  add(`${spec.op} no arguments`, () => raw[spec.op]());
  add(`${spec.op} extra arguments`, () => raw[spec.op](...spec.args(), 1, 'x', null));
  spec.kinds.forEach((kind, i) => {
    for (const [name, mk] of hostileFor(kind)) {
      add(`${spec.op} arg ${i} = ${name}`, () => {
        const args = spec.args();
        args[i] = mk();
        return raw[spec.op](...args);
      });
    }
  });
  for (const [key, values] of Object.entries(spec.opts ?? {})) {
    for (const v of values) {
      add(`${spec.op} option ${key} = ${describe(v)}`, () => {
        const args = spec.args();
        const last = args.length - 1;
        args[last] = { ...(args[last] as object), [key]: typeof v === 'function' ? v : v };
        return raw[spec.op](...args);
      });
    }
  }
}

// The public constructors and views: Tensor.from / zeros with hostile shapes, data, dtypes and devices;
// reshape and to() of a live tensor.
{
  const shapes: unknown[] = [[2, 3], ...hostileShapes(), ...ODD_VALUES];
  const datas: unknown[] = [new Float32Array(6), new Int32Array(6), [1, 2, 3, 4, 5, 6], new Float64Array(6), 'abcdef', null, { length: 2 ** 32 }, new Float32Array(0)];
  const opts: unknown[] = [{}, { dtype: 'bf16' }, { dtype: 'i32' }, { dtype: 'f64' }, { device: 'cuda:99999999999' }, { device: 'cuda:-1' }, { device: 7 }, null];
  for (const shape of shapes) {
    add(`Tensor.zeros(${describe(shape)})`, () => Tensor.zeros(shape as number[]));
    add(`Tensor.from(6 floats, ${describe(shape)})`, () => Tensor.from(new Float32Array(6), shape as number[]));
    add(`tensor.reshape(${describe(shape)})`, () => Tensor.zeros([2, 3]).reshape(shape as number[]));
  }
  for (const data of datas) for (const o of opts) add(`Tensor.from(${describe(data)}, [2,3], ${describe(o)})`, () => Tensor.from(data as Float32Array, [2, 3], o as {}));
  for (const o of opts) add(`Tensor.zeros([2,3], ${describe(o)})`, () => Tensor.zeros([2, 3], o as {}));
  for (const d of DEVICES) add(`tensor.to(${describe(d)})`, () => Tensor.zeros([2, 3]).to(d as 'cpu'));
  add('toArray of a disposed tensor', () => {
    const x = Tensor.zeros([2]);
    x.dispose();
    return x.toFloat32Array();
  });
}

// Random shapes: every tensor argument of every op gets a random small or zero-size-huge shape.
let seed = 0x5eed;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
function randomShape(): number[] {
  const nd = Math.floor(rand() * 6);
  const s = Array.from({ length: nd }, () => pick([0, 1, 1, 2, 3, 5, 17]));
  if (rand() < 0.15 && nd > 0) s[Math.floor(rand() * nd)] = pick(BIG_DIMS.filter((d) => d <= 2 ** 47));
  const bytes = bytesOf(s);
  if (bytes !== undefined && bytes > 0n && (bytes > BigInt(kMaxRealBytes))) return s.map((d) => (d > 17 ? 0 : d));
  return s;
}
for (let r = 0; r < 1500; ++r) {
  const spec = SPECS[r % SPECS.length];
  const shapes = spec.kinds.map((k) => (k === 't' ? randomShape() : k === 'tl' ? [randomShape(), randomShape()] : undefined));
  const dtypes = spec.kinds.map(() => pick(['f32', 'f32', 'f32', 'i32', 'bf16']));
  add(`${spec.op} random ${JSON.stringify(shapes)} ${dtypes.join(',')}`, () => {
    const args = spec.args();
    spec.kinds.forEach((k, i) => {
      if (k === 't') args[i] = t(shapes[i] as number[], dtypes[i]);
      if (k === 'tl') args[i] = (shapes[i] as number[][]).map((s) => t(s, dtypes[i]));
      if (k === 'int' && rand() < 0.5) args[i] = pick([-3, -1, 0, 1, 2, 5]);
    });
    return raw[spec.op](...args);
  });
}

// ---- running ------------------------------------------------------------------------------------------------

const OPAQUE = /\b(stoi|stol|stoll|stod|basic_string|vector::|_M_\w+|std::\w+|bad_alloc|bad_array_new_length|napi_\w+)\b/;

function checkShapeOut(s: unknown, dtype: unknown): string | undefined {
  if (!Array.isArray(s)) return 'shape is not an array';
  let nonzero = 1n;
  for (const d of s) {
    if (!Number.isSafeInteger(d) || d < 0) return `shape ${JSON.stringify(s)} has a bad dimension`;
    if (d > 0) nonzero *= BigInt(d);
  }
  if (nonzero > kMaxElements) return `shape ${JSON.stringify(s)}: non-zero dimensions multiply to more than 2^47`;
  if ((bytesOf(s, String(dtype)) ?? 0n) > kMaxBytes) return `shape ${JSON.stringify(s)} is above 2^47 bytes`;
  return undefined;
}

function checkResult(r: unknown, depth = 0): string | undefined {
  if (r === null || r === undefined || typeof r === 'number' || typeof r === 'string' || typeof r === 'boolean') return undefined;
  if (r instanceof Tensor) return checkResult(r.handle, depth);
  if (typeof r !== 'object' || depth > 2) return undefined;
  const o = r as Record<string, unknown>;
  if (typeof o.dispose === 'function' && 'shape' in o) {
    if ((o as unknown as NativeTensor).disposed) return undefined;
    return checkShapeOut(o.shape, o.dtype);
  }
  for (const v of Object.values(o)) {
    const bad = checkResult(v, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

const logFd = fs.openSync(process.argv[3], 'a');
const say = (line: string) => fs.writeSync(logFd, line.replace(/\n/g, ' ') + '\n');
const first = Number(process.argv[2] ?? 0);
if (first === 0) say(`total ${attacks.length}`);
for (let i = first; i < attacks.length; ++i) {
  say(`start ${i} ${attacks[i].name}`);
  let why: string | undefined;
  const { run, expect } = attacks[i];
  try {
    why = checkResult(run()) ?? (expect instanceof RegExp ? `returned instead of throwing ${expect}` : undefined);
  } catch (e) {
    if (expect === 'returns') why = `threw ${e instanceof Error ? e.message : describe(e)}`;
    else if (!(e instanceof Error)) why = `threw a non-Error: ${describe(e)}`;
    else if (!e.message) why = 'threw an Error without a message';
    else if (OPAQUE.test(e.message)) why = `opaque message: ${e.message}`;
    else if (expect && !expect.test(e.message)) why = `message ${JSON.stringify(e.message)} does not match ${expect}`;
  }
  say(why ? `broke ${i} ${why}` : `held ${i}`);
}
b.adamwUseKernel('auto'); // the adamwUseKernel attacks may have changed it
say('done');
