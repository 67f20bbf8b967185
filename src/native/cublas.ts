// Where to find cuBLASLt at run time, for the CUDA matmul (cuda/cublas.cu dlopens the first candidate that loads).
// In order: CUDA_HOME / CUDA_PATH (lib64, lib, targets/<arch>-linux/lib), each LD_LIBRARY_PATH entry, the pip wheel
// nvidia-cublas (nvidia/cu13/lib; nvidia/cublas/lib for CUDA 12 wheels) in the `nvidia` package of RECLIN_PYTHON,
// or else in the site-packages of python3, and last the bare soname for the system's loader (ldconfig). No path is
// hard-coded. Not found: one line on stderr, and matmul runs reclin's own GEMM.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from './loader';

const SONAMES = ['libcublasLt.so.13', 'libcublasLt.so'];
const WHEEL_LIBS = [path.join('cu13', 'lib'), path.join('cublas', 'lib')];

export interface CublasSearch {
  env: Record<string, string | undefined>;
  /** The `nvidia` package folders (a namespace package may have several) of this python, or [] when it has none. */
  nvidiaDirs: (python: string) => string[];
  /** The site-packages folders of this python, or [] when it cannot say. */
  sitePackages: (python: string) => string[];
  exists: (p: string) => boolean;
  arch: string;
}

/** The candidate library files in the order they are tried (files that exist; the bare sonames last). */
export function cublasCandidates(s: CublasSearch): string[] {
  const dirs: string[] = [];
  for (const root of [s.env.CUDA_HOME, s.env.CUDA_PATH]) {
    if (root) dirs.push(path.join(root, 'lib64'), path.join(root, 'lib'), path.join(root, 'targets', `${s.arch}-linux`, 'lib'));
  }
  for (const d of (s.env.LD_LIBRARY_PATH ?? '').split(path.delimiter)) if (d) dirs.push(d);
  const wheelDirs = (nvidia: string[]) => nvidia.flatMap((n) => WHEEL_LIBS.map((w) => path.join(n, w)));
  const found = (ds: string[]) => ds.flatMap((d) => SONAMES.map((n) => path.join(d, n))).filter((f) => s.exists(f));
  let files = found(dirs);
  // Python is asked only when nothing was found so far (it costs a process start).
  if (files.length === 0) {
    const python = s.env.RECLIN_PYTHON;
    if (python) files = found(wheelDirs(s.nvidiaDirs(python)));
    if (files.length === 0) files = found(wheelDirs(s.sitePackages('python3').map((p) => path.join(p, 'nvidia'))));
  }
  return [...new Set([...files, ...SONAMES])];
}

function pythonJson(python: string, code: string): string[] {
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) return [];
  try {
    const v = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The real search: this process's environment and pythons. */
export function systemCublasSearch(): CublasSearch {
  return {
    env: process.env,
    nvidiaDirs: (py) => pythonJson(py, 'import json, nvidia; print(json.dumps(list(nvidia.__path__)))'),
    sitePackages: (py) => pythonJson(py, 'import json, site; print(json.dumps(site.getsitepackages() + [site.getusersitepackages()]))'),
    exists: (p) => fs.existsSync(p),
    arch: process.arch === 'arm64' ? 'sbsa' : 'x86_64',
  };
}

export interface GemmBackendStatus {
  /** 'cublasLt': CUDA matmuls use it; 'reclin': our own GEMM; 'unavailable': no usable CUDA device. */
  backend: 'cublasLt' | 'reclin' | 'unavailable';
  library: string | null;
  version: number | null;
  tf32: boolean;
  /** Whether this binary was built with the cuBLASLt header (it can load the library at all). */
  built: boolean;
  reason: string;
}

let loaded: GemmBackendStatus | undefined;

/**
 * Loads cuBLASLt into the CUDA addon once (the first CUDA matmul calls this). FP32 compute unless
 * RECLIN_ALLOW_TF32=1. When it is not found (or RECLIN_CUBLAS=0 asks for none), prints one line and matmuls use
 * reclin's own GEMM.
 */
export function ensureGemmBackend(search: CublasSearch = systemCublasSearch()): GemmBackendStatus | undefined {
  if (loaded) return loaded;
  const b = native();
  if (!b.cublasLoad) return undefined;  // a CPU build
  const allowTf32 = search.env.RECLIN_ALLOW_TF32 === '1';
  // RECLIN_CUBLAS=0: no candidates, so reclin's own GEMM runs (scripts/gpu-check.sh checks that kernel on hardware)
  const off = search.env.RECLIN_CUBLAS === '0';
  loaded = b.cublasLoad(off ? [] : cublasCandidates(search), { allowTf32 });
  if (loaded.backend === 'reclin' && off && search.env.RECLIN_QUIET !== '1')
    process.stderr.write(`reclin: CUDA matmuls use reclin's own GEMM (RECLIN_CUBLAS=0).\n`);
  else if (loaded.backend === 'reclin' && search.env.RECLIN_QUIET !== '1')
    process.stderr.write(`reclin: CUDA matmuls use reclin's own GEMM (slower): ${loaded.reason}. Install the pip wheel nvidia-cublas or set CUDA_HOME.\n`);
  return loaded;
}

/** What the CUDA matmul runs on (loads cuBLASLt first if no matmul has); null for a CPU build. */
export function gemmBackend(): GemmBackendStatus | null {
  return ensureGemmBackend() ?? null;
}
