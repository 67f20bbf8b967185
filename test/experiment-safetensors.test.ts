// safetensors: our writer/reader round-trips, the header follows the format's rules, and the real Python
// `safetensors` package loads what we write (and we load what it writes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, float32ToBf16Bits, bf16BitsToFloat32, SafetensorsError } from '../src/format/safetensors';
import { randn, requirePython, runPython } from './helpers';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-st-'));
}

function sample() {
  return {
    'model.embed_tokens.weight': { dtype: 'F32' as const, shape: [5, 3], data: randn(15, 1) },
    'model.layers.0.mlp.up_proj.weight': { dtype: 'BF16' as const, shape: [2, 3], data: randn(6, 2) },
    'model.ids': { dtype: 'I32' as const, shape: [4], data: Int32Array.from([1, -2, 3, 2147483647]) },
    'model.norm.weight': { dtype: 'F32' as const, shape: [3], data: Float32Array.from([1, 2, 3]) },
    'scalar': { dtype: 'F32' as const, shape: [], data: Float32Array.from([7.5]) },
    'empty': { dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
  };
}

test('safetensors: round trip keeps names, dtypes, shapes, values and metadata; header is 8-byte aligned', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'a.safetensors');
  const s = sample();
  const { bytes, sha256 } = writeSafetensors(file, s, { format: 'pt', step: '12' });
  assert.equal(bytes, fs.statSync(file).size);
  assert.match(sha256, /^[0-9a-f]{64}$/);
  const n = Number(fs.readFileSync(file).readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0);
  const { tensors, metadata } = readSafetensors(file);
  assert.deepEqual(metadata, { format: 'pt', step: '12' });
  assert.deepEqual(Object.keys(tensors).sort(), Object.keys(s).sort());
  assert.deepEqual(tensors['model.embed_tokens.weight'].data, s['model.embed_tokens.weight'].data);
  assert.deepEqual(tensors['model.ids'].data, s['model.ids'].data);
  assert.equal(tensors['model.layers.0.mlp.up_proj.weight'].dtype, 'BF16');
  assert.deepEqual(tensors['model.layers.0.mlp.up_proj.weight'].data, float32ToBf16Bits(s['model.layers.0.mlp.up_proj.weight'].data));
  assert.deepEqual(tensors.scalar.shape, []);
  assert.deepEqual(tensors.empty.shape, [0, 4]);
  assert.equal(fs.readdirSync(dir).length, 1, 'no temporary files left behind');
});

test('safetensors: bf16 conversion rounds to nearest even and widens exactly', () => {
  const x = Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, Infinity, NaN, 3.4028234663852886e38, 3.3895313892515355e38]);
  const back = bf16BitsToFloat32(float32ToBf16Bits(x));
  assert.deepEqual([...back.slice(0, 5)], [1, 1, 1 + 2 ** -6, -2.5, Infinity]);
  assert.ok(Number.isNaN(back[5]));
  assert.equal(back[6], Infinity, "float32 max rounds up to inf");
  assert.equal(back[7], 3.3895313892515355e38, "bf16 max is exact");
});

test('safetensors: bad input and corrupt files give errors naming the tensor and the problem', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'b.safetensors');
  assert.throws(() => writeSafetensors(file, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }), /tensor "w": data has 3 elements but shape \[2, 2\] needs 4/);
  assert.throws(() => writeSafetensors(file, { w: { dtype: 'Q8' as never, shape: [1], data: new Float32Array(1) } }), /tensor "w": dtype must be one of F64, I64, F32, I32, BF16, F16, I16, U16, I8, U8, BOOL, got "Q8"/);
  assert.throws(() => writeSafetensors(file, { w: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } }), /shape must be an array of non-negative integers/);
  writeSafetensors(file, { w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  const good = fs.readFileSync(file);
  fs.writeFileSync(file, good.subarray(0, good.length - 3));
  assert.throws(() => readSafetensors(file), (e: Error) => e instanceof SafetensorsError && /truncated or trailing bytes/.test(e.message));
  const bad = Buffer.from(good);
  bad.writeBigUInt64LE(10n ** 12n, 0);
  fs.writeFileSync(file, bad);
  assert.throws(() => readSafetensorsHeader(file), /header length .* exceeds the file/);
});

test('safetensors: the Python safetensors package loads every tensor we write (bf16 as torch rounds it), and we read what it writes', (t) => {
  const py = requirePython(['safetensors', 'numpy', 'torch']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = tmpdir();
  const file = path.join(dir, 'ours.safetensors');
  const s = sample();
  writeSafetensors(file, s, { note: 'from reclin' });
  const out = runPython(py.python, `
import json, sys, numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
res = {}
with safe_open(sys.argv[1], framework="np") as f:
    meta = f.metadata()
    for k in f.keys():
        sl = f.get_slice(k)
        dt = sl.get_dtype()
        if dt == "BF16":
            # numpy has no bfloat16: torch reads it; the values come back widened exactly to float64
            import torch
            from safetensors.torch import load_file
            a = load_file(sys.argv[1])[k]
            res[k] = {"dtype": dt, "shape": list(a.shape), "values": a.to(torch.float64).ravel().tolist()}
        else:
            a = f.get_tensor(k)
            res[k] = {"dtype": dt, "shape": list(a.shape), "values": a.astype(np.float64).ravel().tolist()}
save_file({"x": np.arange(6, dtype=np.float32).reshape(2, 3), "y": np.array([5, 6], dtype=np.int32)}, sys.argv[2], metadata={"who": "python"})
print(json.dumps({"meta": meta, "tensors": res}))
`, [file, path.join(dir, 'theirs.safetensors')]);
  const got = JSON.parse(out);
  assert.deepEqual(got.meta, { note: 'from reclin' });
  for (const [name, want] of Object.entries(s)) {
    const g = got.tensors[name];
    assert.ok(g, `python sees ${name}`);
    assert.equal(g.dtype, want.dtype, name);
    assert.deepEqual(g.shape, want.shape, name);
    if (want.dtype !== 'BF16') assert.deepEqual(g.values, Array.from(want.data as ArrayLike<number>), name);
  }
  // bf16: what torch read must be torch's own round-to-nearest-even of the float32 values we were given
  const byName = s as Record<string, { dtype: string; data: unknown }>;
  const bfNames = Object.keys(byName).filter((k) => byName[k].dtype === 'BF16');
  assert.ok(bfNames.length > 0);
  const rounded = JSON.parse(runPython(py.python, `
import json, sys, torch
vals = json.loads(sys.argv[1])
print(json.dumps({k: torch.tensor(v, dtype=torch.float32).to(torch.bfloat16).to(torch.float64).tolist() for k, v in vals.items()}))
`, [JSON.stringify(Object.fromEntries(bfNames.map((k) => [k, Array.from(byName[k].data as ArrayLike<number>)])))]));
  for (const k of bfNames) assert.deepEqual(got.tensors[k].values, rounded[k], k);
  const theirs = readSafetensors(path.join(dir, 'theirs.safetensors'));
  assert.deepEqual(theirs.metadata, { who: 'python' });
  assert.deepEqual(theirs.tensors.x.shape, [2, 3]);
  assert.deepEqual([...theirs.tensors.x.data as Float32Array], [0, 1, 2, 3, 4, 5]);
  assert.equal(theirs.tensors.y.dtype, 'I32');
  assert.deepEqual([...theirs.tensors.y.data as Int32Array], [5, 6]);
});
