// Child process for ops-simd.test.ts: runs the GEMM and row-primitive checks under the SIMD level forced by
// RECLIN_GEMM_KERNEL / RECLIN_VEC (both are chosen once per process, so each level needs its own process).
import { gemmChecks, gemmKernelName } from './ops-gemm-checks';
import { vecChecks } from './ops-vec-checks';

const bad = [...gemmChecks(), ...vecChecks()];
console.log(`kernel=${gemmKernelName()} vec=${process.env.RECLIN_VEC ?? ''} failures=${bad.length}\n${bad.join('\n')}`);
process.exit(bad.length ? 1 : 0);
