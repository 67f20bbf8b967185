// Without a GPU: the CUDA binary (CI compiles it into build-cuda-check/) exports a `${name}Cuda` twin for every
// op the ops contract routes by device (src/ops/native-call.ts), and the twins check their arguments before
// touching the GPU, naming the argument. The numerical checks against the CPU ops are test/gpu/*.test.ts
// (scripts/gpu-check.sh on a GPU machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../src';
import { cublasCandidates } from '../src/native';
import { systemCublasSearch } from '../src/native/cublas';
import { interopRequired } from './helpers';
import { fusedRuleCases, maker, thrown } from './fused-rule-cases';

const root = path.resolve(__dirname, '..');
const cudaBinary = ['build-cuda-check', 'build-cuda'].map((d) => path.join(root, d, 'Release', 'reclin.node')).find((p) => fs.existsSync(p)) ?? '';
const skip = !cudaBinary && !interopRequired && 'no build-cuda/ (npm run build:cuda)';

/** Every raw op that src/ops calls through native-call.ts (plus KDA and AdamW, which route themselves). */
const routed = [
  'activation', 'activationBackward', 'addInPlace', 'argmax', 'binary', 'causalAttention', 'causalAttentionBackward',
  'cast', 'concat', 'copy', 'copyInPlace', 'crossEntropy', 'crossEntropyBackward', 'embedding', 'embeddingBackward', 'l2norm',
  'l2normBackward', 'matmul', 'rmsnorm', 'rmsnormBackward', 'scaleInPlace', 'shortConv', 'shortConvBackward', 'slice',
  'sliceBackward', 'softmax', 'sumDims', 'sumSquares', 'sumToShape', 'swiglu', 'swigluBackward', 'transpose', 'unary',
  'kdaForward', 'kdaBackward', 'adamwStep', 'moeRoute', 'moeRouteBackward', 'moeExperts', 'moeExpertsBackward',
];

test('the CUDA binary has a Cuda twin for every routed op', { skip }, () => {
  assert.ok(cudaBinary, 'CI must compile the CUDA variant first so this check runs');
  const b = require(cudaBinary) as Record<string, unknown>;
  const missing = routed.filter((n) => typeof b[n] !== 'function' || typeof b[`${n}Cuda`] !== 'function');
  assert.deepEqual(missing, [], `ops without a CUDA twin: ${missing.join(', ')}`);
});

test('the CUDA twins refuse cpu tensors by argument name, without a GPU', { skip }, () => {
  const b = require(cudaBinary) as Record<string, (...a: unknown[]) => unknown>;
  // Tensors made by the CPU binary are plain handles the CUDA binary cannot read; make them with its own fromArray.
  const t = (shape: number[]) => b.fromArray(new Float32Array(shape.reduce((x, y) => x * y, 1)), shape, 'f32', 'cpu');
  const q = t([1, 4, 1, 8]);
  assert.throws(() => b.kdaForwardCuda(q, q, q, q, t([1, 4, 1]), {}), /q: expected a cuda tensor, got one on cpu/);
  assert.throws(() => b.kdaBackwardCuda(q, q, q, q, t([1, 4, 1]), q, {}), /q: expected a cuda tensor/);
  assert.throws(() => b.matmulCuda(t([2, 3]), t([3, 2]), {}), /a: expected a cuda tensor/);
  assert.throws(() => b.binaryCuda(t([2]), t([2]), 'add'), /a: expected a cuda tensor/);
  assert.throws(() => b.rmsnormCuda(t([2, 3]), null, 1e-5), /x: expected a cuda tensor/);
  assert.throws(() => b.causalAttentionCuda(q, q, q, {}), /q: expected a cuda tensor/);
  assert.throws(() => b.transposeCuda(t([2, 3]), 0, 1), /x: expected a cuda tensor/);
  assert.throws(() => b.clipGradNormCuda([t([3])], 1), /grads\[0\]: expected a cuda tensor, got one on cpu/);
  assert.throws(() => b.sumSquaresCuda([t([3])]), /tensors\[0\]: expected a cuda tensor/);
  const ids = b.fromArray(new Int32Array(4), [4, 1], 'i32', 'cpu');
  assert.throws(() => b.moeRouteCuda(t([4, 6]), null, { topK: 2 }), /logits: expected a cuda tensor, got one on cpu/);
  assert.throws(() => b.moeRouteBackwardCuda(t([4, 1]), t([4, 6]), ids, {}), /dWeights: expected a cuda tensor/);
  assert.throws(() => b.moeExpertsCuda(t([4, 3]), t([2, 10, 3]), t([2, 3, 5]), ids, t([4, 1])), /x: expected a cuda tensor/);
  assert.throws(() => b.moeExpertsBackwardCuda(t([4, 3]), t([4, 3]), t([2, 10, 3]), t([2, 3, 5]), ids, t([4, 1]), t([4, 10]), t([4, 3])),
    /dy: expected a cuda tensor/);
  assert.ok(Tensor.from(new Float32Array(2), [2]).device === 'cpu');
});

test('the CUDA binary reports its GEMM backend without a GPU: unavailable, with the reason and what it loaded', { skip }, () => {
  const b = require(cudaBinary) as Record<string, (...a: unknown[]) => any>;
  if ((b.cudaProbe() as { ok: boolean }).ok) return;  // a GPU machine: test/gpu/ covers it
  const before = b.gemmBackendCuda();
  assert.equal(before.backend, 'unavailable');
  assert.match(before.reason, /^no usable CUDA device \(/);
  // the real search (CUDA_HOME, LD_LIBRARY_PATH, the pip wheel through RECLIN_PYTHON or python3), behind a file that
  // does not exist; the library loads without a GPU where one is installed
  const real = cublasCandidates(systemCublasSearch()).filter((f) => path.isAbsolute(f));
  const st = b.cublasLoad([path.join(root, 'no-such-dir', 'libcublasLt.so.13'), ...real], { allowTf32: false });
  assert.equal(st.backend, 'unavailable');
  assert.equal(st.tf32, false);
  if (!st.built) assert.match(st.reason, /built without cuBLASLt headers/);
  else if (real.length) {
    assert.equal(st.library, real[0]);
    assert.ok(st.version >= 130000 && st.version < 140000, `version ${st.version}`);
  } else assert.match(st.reason, /cuBLASLt not found \(tried .*no-such-dir.*libcublasLt\.so\.13: /);
  assert.throws(() => b.cublasLoad('x'), /candidates: expected an array of library paths/);
});

test('without a GPU the CUDA runtime exports fail with the driver\'s reason, never a crash', { skip }, () => {
  const b = require(cudaBinary) as Record<string, (...a: unknown[]) => unknown>;
  const probe = b.cudaProbe() as { ok: boolean; error?: string };
  if (probe.ok) return;  // a GPU machine: test/gpu/ covers the runtime
  assert.throws(() => b.cudaSynchronize(0), /reclin: cudaSetDevice: /);
  assert.throws(() => b.fromArray(new Float32Array(2), [2], 'f32', 'cuda'), /cuda/);
});

// The fused ops' rules (native/fused_rules.h) check the device last, so cpu tensors reach every other rule here.
test('the KDA, attention and AdamW twins refuse bad input with the CPU entry\'s message, without a GPU', { skip }, () => {
  const b = require(cudaBinary) as Record<string, (...a: unknown[]) => unknown> & { fromArray: (...a: never[]) => unknown };
  const t = maker(b);
  for (const c of fusedRuleCases) {
    const cuda = thrown(() => b[`${c.op}Cuda`](...c.args(t)));
    if (c.cuda) {
      assert.match(cuda, c.cuda, `${c.rule}: ${c.op}Cuda threw ${JSON.stringify(cuda)}`);
      continue;
    }
    // the same rule: the CUDA binary's own CPU entry gives the identical message for the same input
    const cpu = thrown(() => b[c.op](...c.args(t)));
    assert.match(cpu, c.cpu!, `${c.rule}: ${c.op} threw ${JSON.stringify(cpu)}`);
    assert.equal(cuda, cpu, `${c.rule}: ${c.op}Cuda and ${c.op} differ`);
  }
});
