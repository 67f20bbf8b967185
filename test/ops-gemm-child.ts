// Run by ops-matmul.test.ts in a child process with RECLIN_GEMM_KERNEL set (the kernel is chosen once).
import { ops } from '../src';
import { op } from '../src/native/loader';
import { rmsRel } from './helpers';
import { matmulRef, rand, vals } from './ops-ref';

const kernel = op<() => string>('gemmKernel')();
let worst = 0;
let seed = 100;
for (const [M, K, N] of [[1, 1, 1], [7, 13, 19], [29, 300, 37], [150, 120, 130]])
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const a = rand(transA ? [K, M] : [M, K], seed++), b = rand(transB ? [N, K] : [K, N], seed++);
      const c = ops.matmul(a.t, b.t, { transA, transB, alpha: 0.5 });
      worst = Math.max(worst, rmsRel(matmulRef(a.x, b.x, M, N, K, transA, transB, 0.5), vals(c)));
    }
console.log(`kernel=${kernel} worst=${worst}`);
if (!(worst < 1e-5)) process.exit(1);
