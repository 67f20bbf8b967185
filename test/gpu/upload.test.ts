// GPU only (scripts/gpu-check.sh): host→device uploads go through the pinned staging ring (cuda/runtime.cu) and return
// before the copy has run. The source array is overwritten right after each upload, more bytes are uploaded than the
// ring holds (so regions are reused after their events), and kernels queued behind the uploads read them: every
// tensor must still hold what was uploaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops, scope, syncCheck } from '../../src';

test('async uploads through the staging ring keep their values (source reused at once, ring wrapped many times)', () => {
  const n = 16384 + 3;  // 64 KiB and a bit: 2000 uploads are about 8 rings of 16 MiB
  const src = new Float32Array(n);
  scope(() => {
    const sums: Tensor[] = [];
    for (let i = 0; i < 2000; i++) {
      src.fill(i + 0.5);
      const t = Tensor.from(src, [n], { device: 'cuda' });
      src.fill(-1);  // the upload must already have taken its copy
      sums.push(ops.sumSquaresScalar([t]));  // queued behind the upload on the same stream, no wait
      if (i % 97 === 0) {
        const back = t.toFloat32Array();
        assert.ok(back.every((v) => v === i + 0.5), `upload ${i}: values changed`);
      }
    }
    for (let i = 0; i < sums.length; i += 111) {
      const expect = n * (i + 0.5) ** 2;
      const got = sums[i].toFloat32Array()[0];
      assert.ok(Math.abs(got - expect) <= 1e-5 * expect, `upload ${i}: sum of squares ${got}, expected ${expect}`);
    }
  });
  // big uploads (above a quarter of the ring) take the synchronous path
  const big = Float32Array.from({ length: 3 << 20 }, (_, i) => i % 1000);
  const t = Tensor.from(big, [big.length], { device: 'cuda' });
  big.fill(0);
  assert.equal(t.toFloat32Array()[999], 999);
  syncCheck();
});
