// The binary choice (pure logic, fake probes) and, where a CUDA build exists, the real CUDA binary on this
// GPU-less machine: it must load, probe without throwing, run CPU ops, and the loader must fall back to CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chooseBinary, pickCudaBinary, type BinaryCandidate, type CudaProbe } from '../src/native';
import { interopRequired } from './helpers';

const cpu: BinaryCandidate = { path: '/p/reclin-cpu.node', kind: 'cpu', archs: [], origin: 'prebuilt' };
const sm = (a: number): BinaryCandidate => ({ path: `/p/reclin-cuda-sm${a}.node`, kind: 'cuda', archs: [`${a}-real`, `${a}-virtual`], origin: 'prebuilt' });
const all = [cpu, sm(80), sm(86), sm(89), sm(90)];
const gpu = (major: number, minor: number): CudaProbe => ({ ok: true, devices: [{ name: `GPU ${major}.${minor}`, major, minor }] });

test('picks SASS of the same major at the nearest lower minor', () => {
  assert.equal(chooseBinary(all, gpu(9, 0), 'auto').candidate.path, '/p/reclin-cuda-sm90.node');
  assert.equal(chooseBinary(all, gpu(8, 6), 'auto').candidate.path, '/p/reclin-cuda-sm86.node');
  assert.equal(chooseBinary(all, gpu(8, 7), 'auto').candidate.path, '/p/reclin-cuda-sm86.node'); // Orin: sm_87
  assert.equal(chooseBinary(all, gpu(8, 9), 'auto').candidate.path, '/p/reclin-cuda-sm89.node');
  assert.equal(chooseBinary([cpu, sm(80), sm(90)], gpu(8, 9), 'auto').candidate.path, '/p/reclin-cuda-sm80.node');
});

test('a newer major than any SASS runs the highest PTX', () => {
  const c = chooseBinary(all, gpu(12, 0), 'auto');
  assert.equal(c.candidate.path, '/p/reclin-cuda-sm90.node');
  assert.match(c.reason, /PTX for compute_90/);
  assert.equal(pickCudaBinary([sm(90)], 89), undefined); // PTX never runs on an older GPU
});

test('falls back to CPU with one clear line, or throws when cuda is forced', () => {
  const noDriver: CudaProbe = { ok: false, error: 'CUDA driver version is insufficient for CUDA runtime version', devices: [] };
  const c = chooseBinary(all, noDriver, 'auto');
  assert.equal(c.candidate.kind, 'cpu');
  assert.match(c.reason, /no usable CUDA device \(CUDA driver version is insufficient/);
  assert.equal(c.warning, undefined, 'prebuilt CUDA binaries on a machine without a usable GPU: silent');
  const built = chooseBinary([cpu, { ...sm(90), origin: 'local build' }], noDriver, 'auto');
  assert.match(built.warning!, /^reclin: using the CPU backend: no usable CUDA device \(CUDA driver version is insufficient/);
  const named = chooseBinary([cpu, { ...sm(90), origin: 'RECLIN_ADDON' }], noDriver, 'auto');
  assert.match(named.warning!, /^reclin: using the CPU backend: no usable CUDA device/);
  assert.throws(() => chooseBinary(all, noDriver, 'cuda'), /RECLIN_BACKEND=cuda but no usable CUDA device/);
  const old = chooseBinary(all, gpu(7, 5), 'auto');
  assert.equal(old.candidate.kind, 'cpu');
  assert.match(old.warning!, /sm_75; reclin's CUDA kernels need sm_80 or newer/);
  assert.equal(chooseBinary(all, gpu(9, 0), 'cpu').warning, undefined);
  assert.equal(chooseBinary([cpu], undefined, 'auto').warning, undefined); // no CUDA binary: silent
  assert.throws(() => chooseBinary([cpu], undefined, 'cuda'), /no CUDA binary is installed; build one with `npm run build:cuda`/);
  assert.throws(() => chooseBinary([sm(90)], undefined, 'auto'), /no CPU binary is installed either/);
});

const root = path.resolve(__dirname, '..');
// CI compiles the CUDA variant into build-cuda-check/ (which the loader does not look in, so other tests
// keep using the CPU binary quietly); a developer's build-cuda/ works too.
const cudaBinary = ['build-cuda-check', 'build-cuda'].map((d) => path.join(root, d, 'Release', 'reclin.node')).find((p) => fs.existsSync(p)) ?? '';
const haveCuda = cudaBinary !== '';
const cpuBinary = path.join(root, 'build', 'Release', 'reclin.node');

function runNode(code: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
}

test('the CUDA binary loads and probes without a GPU, and the loader falls back to CPU', { skip: !haveCuda && !interopRequired && 'no build-cuda/ (npm run build:cuda)' }, () => {
  assert.ok(haveCuda, 'CI must compile the CUDA variant first (npm run build:cuda) so a CUDA compile error fails CI');
  const b = require(cudaBinary);
  const probe = b.cudaProbe();
  assert.equal(typeof probe.ok, 'boolean');
  assert.ok(Array.isArray(probe.devices));
  assert.match(b.cudaArchitectures(), /90/);
  const t = b.fromArray(new Float32Array([1, 2, 3]), [3], 'f32', 'cpu');
  assert.deepEqual([...b.toDevice(t, 'cpu').toArray()], [1, 2, 3]);
  if (probe.ok) return; // on a GPU machine the rest is test/gpu's job
  assert.throws(() => b.toDevice(t, 'cuda'), /cuda/i);

  const code = "const r=require('./src'); r.Tensor.zeros([2]).dispose(); console.log(r.loadAddon().path)";
  const both = { RECLIN_ADDON: [cpuBinary, cudaBinary].join(path.delimiter) };
  const auto = runNode(code, { ...both, RECLIN_BACKEND: 'auto' });
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /build\/Release\/reclin\.node/);
  assert.equal(auto.stderr.trim().split('\n').filter((l) => l.startsWith('reclin:')).length, 1);
  assert.match(auto.stderr, /reclin: using the CPU backend: no usable CUDA device/);
  const forced = runNode(code, { ...both, RECLIN_BACKEND: 'cuda' });
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /RECLIN_BACKEND=cuda but no usable CUDA device/);
  const quiet = runNode(code, { ...both, RECLIN_BACKEND: 'cpu' });
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, '');
});
