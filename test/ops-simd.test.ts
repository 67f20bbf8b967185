import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { vecChecks } from './ops-vec-checks';

test('vectorised exp / sigmoid / softmax / cross-entropy / norm rows match float64 (this CPU)', () => {
  assert.deepEqual(vecChecks(), []);
});

test('the AVX2 and portable GEMM micro-kernels and row primitives match float64 too', () => {
  for (const level of ['avx2', 'scalar']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'ops-simd-child.ts')], {
      env: { ...process.env, RECLIN_GEMM_KERNEL: level, RECLIN_VEC: level },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${level}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`kernel=${level} `));
  }
});
