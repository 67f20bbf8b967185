// GEMM checks run under each forced micro-kernel (RECLIN_GEMM_KERNEL, read once per process) by
// ops-simd.test.ts through ops-simd-child.ts.
import { ops } from '../src';
import { op } from '../src/native/loader';
import { rmsRel } from './helpers';
import { matmulRef, rand, vals } from './ops-ref';

export function gemmKernelName(): string {
  return op<() => string>('gemmKernel')();
}

export function gemmChecks(): string[] {
  const bad: string[] = [];
  let seed = 100;
  for (const [M, K, N] of [[1, 1, 1], [7, 13, 19], [29, 300, 37], [150, 120, 130]])
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const a = rand(transA ? [K, M] : [M, K], seed++), b = rand(transB ? [N, K] : [K, N], seed++);
        const c = ops.matmul(a.t, b.t, { transA, transB, alpha: 0.5 });
        const e = rmsRel(matmulRef(a.x, b.x, M, N, K, transA, transB, 0.5), vals(c));
        if (!(e < 1e-5)) bad.push(`matmul ${M}x${K}x${N} tA=${transA} tB=${transB} (${gemmKernelName()}): RMS-relative error ${e}`);
      }
  return bad;
}
