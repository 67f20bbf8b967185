// Without a GPU: the CUDA KDA kernels (cuda/kda_kernels.cuh) compiled for the CPU, one thread per block, against
// a float64 reference (test/cuda-emu/kda_emu.cc explains why that emulation is faithful for these kernels).
// This checks the kernels' formulas and indexing; races, launch limits and the real GPU run are
// scripts/gpu-check.sh's job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { interopRequired } from './helpers';

const root = path.resolve(__dirname, '..');
const cxx = process.env.CXX ?? 'c++';
const haveCxx = spawnSync(cxx, ['--version']).status === 0;

test('CUDA KDA kernels, emulated on the CPU, match the float64 recurrence (forward, backward, awkward sizes)', { skip: !haveCxx && !interopRequired && `no C++ compiler (${cxx})` }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-kda-emu-'));
  try {
    const exe = path.join(dir, 'kda_emu');
    const cc = spawnSync(cxx, ['-O2', '-std=c++17', '-I', path.join(root, 'cuda'), path.join(root, 'test', 'cuda-emu', 'kda_emu.cc'), '-o', exe], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `compiling the emulation failed:\n${cc.stderr}`);
    const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, `emulated kernels differ from the reference:\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /all passed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
