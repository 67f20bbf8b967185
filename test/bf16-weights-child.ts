// Child process for bf16-weights.test.ts: matmul with a bf16 b (a frozen weight) at awkward sizes under the
// packing path chosen by RECLIN_GEMM_PACK (fixed once per process); prints the result bits.
import { ops } from '../src';
import { rand } from './ops-ref';
import { BF16_SIZES } from './bf16-weights-sizes';

const out: string[] = [];
let seed = 500;
for (const [M, K, N] of BF16_SIZES)
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const a = rand(transA ? [K, M] : [M, K], seed++);
      const b = ops.cast(rand(transB ? [N, K] : [K, N], seed++).t, 'bf16');
      const c = ops.matmul(a.t, b, { transA, transB }).toFloat32Array();
      out.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64'));
    }
console.log(JSON.stringify(out));
