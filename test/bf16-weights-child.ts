// Child process for bf16-weights.test.ts: matmul with a bf16 b (a frozen weight) and with the same b widened to
// f32, at awkward sizes, under the packing path and micro-kernel chosen by RECLIN_GEMM_PACK / RECLIN_GEMM_KERNEL
// (fixed once per process); prints both results' bits.
import { ops } from '../src';
import { rand } from './ops-ref';
import { BF16_SIZES } from './bf16-weights-sizes';

const b64 = (c: Float32Array) => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64');
const out: { tag: string; bf16: string; wide: string }[] = [];
let seed = 500;
for (const [M, K, N] of BF16_SIZES)
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const a = rand(transA ? [K, M] : [M, K], seed++);
      const b = ops.cast(rand(transB ? [N, K] : [K, N], seed++).t, 'bf16');
      out.push({
        tag: `${M}x${K}x${N} transA=${transA} transB=${transB}`,
        bf16: b64(ops.matmul(a.t, b, { transA, transB }).toFloat32Array()),
        wide: b64(ops.matmul(a.t, ops.cast(b, 'f32'), { transA, transB }).toFloat32Array()),
      });
    }
console.log(JSON.stringify(out));
