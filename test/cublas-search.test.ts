// Where the CUDA matmul looks for cuBLASLt at run time (src/native/cublas.ts), on fake folders: CUDA_HOME first,
// then LD_LIBRARY_PATH, then the pip wheel found through RECLIN_PYTHON, else python3's site-packages, the bare
// soname last; Python is only asked when nothing was found before it. One case asks a real Python. The CUDA
// binary's side (it loads here without a GPU and says so) is in test/cuda-exports.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cublasCandidates, type CublasSearch } from '../src/native';
import { systemCublasSearch } from '../src/native/cublas';
import { requirePython } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cublas-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
function touch(...parts: string[]): string {
  const f = path.join(tmp, ...parts);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, '');
  return f;
}
const home = touch('cuda', 'lib64', 'libcublasLt.so.13');
const ldOld = touch('ld', 'libcublasLt.so');  // an unversioned name in LD_LIBRARY_PATH
const wheel = touch('venv', 'site', 'nvidia', 'cu13', 'lib', 'libcublasLt.so.13');
const wheel12 = touch('sys', 'site', 'nvidia', 'cublas', 'lib', 'libcublasLt.so');
fs.mkdirSync(path.join(tmp, 'empty'));

function search(env: Record<string, string>, calls: string[] = []): CublasSearch {
  return {
    env,
    nvidiaDirs: (py) => (calls.push(`nvidia ${py}`), py === 'venv-python' ? [path.join(tmp, 'venv', 'site', 'nvidia')] : []),
    sitePackages: (py) => (calls.push(`site ${py}`), py === 'python3' ? [path.join(tmp, 'sys', 'site'), path.join(tmp, 'nowhere')] : []),
    exists: (p) => fs.existsSync(p),
    arch: 'x86_64',
  };
}
const SONAMES = ['libcublasLt.so.13', 'libcublasLt.so'];

test('CUDA_HOME, then LD_LIBRARY_PATH, without asking Python', () => {
  const calls: string[] = [];
  const ld = [path.join(tmp, 'empty'), path.join(tmp, 'ld')].join(path.delimiter);
  assert.deepEqual(cublasCandidates(search({ CUDA_HOME: path.join(tmp, 'cuda'), LD_LIBRARY_PATH: ld, RECLIN_PYTHON: 'venv-python' }, calls)), [home, ldOld, ...SONAMES]);
  assert.deepEqual(cublasCandidates(search({ CUDA_PATH: path.join(tmp, 'cuda') }, calls)), [home, ...SONAMES]);
  assert.deepEqual(calls, [], 'python was asked although a library had been found');
});

test('the pip wheel of RECLIN_PYTHON, else of python3', () => {
  const calls: string[] = [];
  assert.deepEqual(cublasCandidates(search({ RECLIN_PYTHON: 'venv-python', LD_LIBRARY_PATH: path.join(tmp, 'empty') }, calls)), [wheel, ...SONAMES]);
  assert.deepEqual(calls, ['nvidia venv-python']);
  calls.length = 0;
  assert.deepEqual(cublasCandidates(search({ RECLIN_PYTHON: 'other-python' }, calls)), [wheel12, ...SONAMES]);
  assert.deepEqual(calls, ['nvidia other-python', 'site python3']);
  assert.deepEqual(cublasCandidates(search({ CUDA_HOME: path.join(tmp, 'empty') })), [wheel12, ...SONAMES]);
});

test('nothing anywhere: only the bare sonames for the system loader', () => {
  const s = search({});
  s.sitePackages = () => [];
  assert.deepEqual(cublasCandidates(s), SONAMES);
});

const py = requirePython([]);
test('a real Python reports where its nvidia package lives', { skip: 'skip' in py ? py.skip : false }, () => {
  const python = (py as { python: string }).python;
  const old = process.env.PYTHONPATH;
  process.env.PYTHONPATH = path.join(tmp, 'venv', 'site');  // a namespace package `nvidia` with the wheel's layout
  try {
    const s = { ...systemCublasSearch(), env: { RECLIN_PYTHON: python } };
    assert.equal(cublasCandidates(s)[0], wheel);
  } finally {
    if (old === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = old;
  }
});
