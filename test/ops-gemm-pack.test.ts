// The GEMM's AVX-512 packing (native/gemm.cc, pack_rows_to_lanes_avx512) only moves values: matmul results
// must be bit-identical to the plain packing loops (RECLIN_GEMM_PACK=scalar) for every transpose combination.
// Values against float64 are checked in ops-matmul.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

function results(pack: string | undefined): string[] {
  const env = { ...process.env };
  delete env.RECLIN_GEMM_PACK;
  if (pack) env.RECLIN_GEMM_PACK = pack;
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'ops-gemm-pack-child.ts')], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('matmul: vectorised packing gives the same bits as the plain packing loops', () => {
  const fast = results(undefined);
  const plain = results('scalar');
  assert.equal(fast.length, plain.length);
  fast.forEach((f, i) => assert.equal(f, plain[i], `case ${i} (size ${Math.floor(i / 4)}, transA=${(i >> 1) % 2 === 1}, transB=${i % 2 === 1})`));
});
