// Child process for ops-gemm-pack.test.ts: prints the bits of matmul results at awkward sizes under the packing
// path chosen by RECLIN_GEMM_PACK (fixed once per process).
import { ops } from '../src';
import { rand } from './ops-ref';
import { PACK_SIZES } from './ops-gemm-pack-sizes';

const out: string[] = [];
let seed = 100;
for (const [M, K, N] of PACK_SIZES)
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const a = rand(transA ? [K, M] : [M, K], seed++);
      const b = rand(transB ? [N, K] : [K, N], seed++);
      const c = ops.matmul(a.t, b.t, { transA, transB }).toFloat32Array();
      out.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64'));
    }
console.log(JSON.stringify(out));
