#!/usr/bin/env node
// Builds the native addon. Run by `npm install` (and `npm run build:native` / `build:cuda`).
//   default: skip when a CPU binary already exists for this platform (prebuilds/ or build/), else build it
//   --force: always rebuild        --cuda: build the CUDA variant into build-cuda/
//   --arch=80,90: CUDA architectures (each gets SASS + PTX); default 90   --out=DIR: build folder
//   with --cuda, cublasLt.h comes from the toolkit, RECLIN_CUBLAS_INCLUDE, or the pip wheel nvidia-cublas
// cmake-js is the full build; node-gyp (binding.gyp, CPU only) is the fallback when cmake is missing or fails.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const force = args.includes('--force') || process.env.npm_config_build_from_source === 'true';
const cuda = args.includes('--cuda');
const archArg = args.find((a) => a.startsWith('--arch='));
const outArg = args.find((a) => a.startsWith('--out='));
const outDir = outArg ? outArg.slice('--out='.length) : cuda ? 'build-cuda' : 'build';
// "80,90" -> ["80-real","80-virtual","90-real","90-virtual"]: SASS for each, plus PTX so newer GPUs can JIT.
const archs = (archArg ? archArg.slice('--arch='.length) : '90').split(',').filter(Boolean)
  .flatMap((a) => (/^\d+$/.test(a) ? [`${a}-real`, `${a}-virtual`] : [a]));
const target = path.join(root, outDir, 'Release', 'reclin.node');
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'reclin-cpu.node');

function run(cmd, argv) {
  console.log(`[reclin] ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || String(Math.max(1, require('node:os').availableParallelism())) } });
  return r.status === 0;
}

if (!force && !cuda && (fs.existsSync(target) || fs.existsSync(prebuilt))) {
  console.log(`[reclin] native addon present (${fs.existsSync(target) ? target : prebuilt}); npm run build:native rebuilds it`);
  process.exit(0);
}

// cublasLt.h for the CUDA build when the toolkit lacks it: RECLIN_CUBLAS_INCLUDE, else the pip wheel nvidia-cublas
// (nvidia/cu13/include, or nvidia/cublas/include for CUDA 12 wheels) of RECLIN_PYTHON or python3. Only the header:
// the library is loaded at run time (cuda/cublas.cu).
function cublasInclude() {
  if (process.env.RECLIN_CUBLAS_INCLUDE) return process.env.RECLIN_CUBLAS_INCLUDE;
  const py = process.env.RECLIN_PYTHON || 'python3';
  const r = spawnSync(py, ['-c', 'import json, nvidia; print(json.dumps(list(nvidia.__path__)))'], { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) return undefined;
  let roots = [];
  try {
    roots = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return undefined;
  }
  for (const root of roots)
    for (const sub of ['cu13', 'cublas']) {
      const inc = path.join(root, sub, 'include');
      if (fs.existsSync(path.join(inc, 'cublasLt.h'))) return inc;
    }
  return undefined;
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const cmakeArgs = [cmakeJs, 'compile', '--out', outDir, `--CDRECLIN_CUDA=${cuda ? 'ON' : 'OFF'}`];
if (cuda) cmakeArgs.push(`--CDCMAKE_CUDA_ARCHITECTURES=${archs.join(';')}`);
const cublasInc = cuda ? cublasInclude() : undefined;
if (cublasInc) cmakeArgs.push(`--CDRECLIN_CUBLAS_INCLUDE=${cublasInc}`);
else if (cuda && process.env.RECLIN_REQUIRE_INTEROP === '1') {
  // CI compiles the cuBLASLt path too: without the header it would silently build only our own GEMM.
  console.error('build-native: RECLIN_REQUIRE_INTEROP=1 and no cublasLt.h (CUDA toolkit, RECLIN_CUBLAS_INCLUDE or the pip wheel nvidia-cublas of RECLIN_PYTHON)');
  process.exit(1);
}
// cmake-js only re-configures a fresh folder: --force drops the old cache so these -D values apply.
if (force) fs.rmSync(path.join(root, outDir, 'CMakeCache.txt'), { force: true });
if (run(process.execPath, cmakeArgs)) {
  // The loader reads which architectures a CUDA binary carries from here (src/native/loader.ts).
  const info = { cuda, cudaArchitectures: cuda ? archs : [], builtAt: new Date().toISOString(), node: process.version };
  fs.writeFileSync(path.join(root, outDir, 'Release', 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  process.exit(0);
}
if (cuda) {
  console.error('[reclin] the CUDA build failed (see above); the CPU addon is unaffected');
  process.exit(1);
}
console.error('[reclin] cmake-js failed; trying the CPU-only node-gyp build (binding.gyp)');
const gyp = [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]
  .find((p) => fs.existsSync(p));
if (gyp && run(process.execPath, [gyp, 'rebuild'])) process.exit(0);
console.error('[reclin] could not build the native addon. Needs a C++17 compiler and cmake >= 3.24 (or python3 for node-gyp).');
process.exit(1);
