// Finds and loads the native addon, once, on first use (so config/tracking code never needs it).
// Candidates: RECLIN_ADDON (explicit paths, ':'-separated), else local builds (build/, build-cuda/), then
// prebuilds/<platform>-<arch>/ (reclin-cpu.node, reclin-cuda-sm80.node, ...). If a CUDA binary is present,
// it is loaded first to probe the driver (static cudart: loading never needs a GPU), and select.ts picks
// the binary to use. RECLIN_BACKEND=cpu|cuda forces the choice.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RawBinding } from './binding';
import { chooseBinary, type Backend, type BinaryCandidate, type CudaProbe } from './select';

export interface LoadedAddon {
  binding: RawBinding;
  path: string;
  reason: string;
  probe?: CudaProbe;
  candidates: BinaryCandidate[];
}

let loaded: LoadedAddon | undefined;

export function packageRoot(): string {
  // src/native/loader.ts and dist/native/loader.js both sit two levels below the package root.
  return path.resolve(__dirname, '..', '..');
}

function readArchs(dir: string): string[] {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'build-info.json'), 'utf8'));
    return Array.isArray(info.cudaArchitectures) ? info.cudaArchitectures : [];
  } catch {
    return [];
  }
}

/** Every binary that exists, in order of preference within its kind. */
export function findBinaries(): BinaryCandidate[] {
  const root = packageRoot();
  const out: BinaryCandidate[] = [];
  const add = (p: string, kind: 'cpu' | 'cuda', archs: string[], origin: string) => {
    if (fs.existsSync(p)) out.push({ path: p, kind, archs, origin });
  };
  if (process.env.RECLIN_ADDON) {
    for (const entry of process.env.RECLIN_ADDON.split(path.delimiter).filter(Boolean)) {
      const p = path.resolve(entry);
      if (!fs.existsSync(p)) throw new Error(`reclin: RECLIN_ADDON names ${p}, which does not exist`);
      const archs = readArchs(path.dirname(p)); // a CUDA build writes its architectures beside the binary
      add(p, archs.length ? 'cuda' : 'cpu', archs, 'RECLIN_ADDON');
    }
    return out;
  }
  add(path.join(root, 'build', 'Release', 'reclin.node'), 'cpu', [], 'local build');
  const cudaDir = path.join(root, 'build-cuda', 'Release');
  add(path.join(cudaDir, 'reclin.node'), 'cuda', readArchs(cudaDir), 'local build');
  const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  add(path.join(pre, 'reclin-cpu.node'), 'cpu', [], 'prebuilt');
  if (fs.existsSync(pre)) {
    for (const f of fs.readdirSync(pre).sort()) {
      const m = /^reclin-cuda-sm(\d+)\.node$/.exec(f);
      if (m) add(path.join(pre, f), 'cuda', [`${m[1]}-real`, `${m[1]}-virtual`], 'prebuilt');
    }
  }
  return out;
}

function backendFromEnv(): Backend {
  const b = (process.env.RECLIN_BACKEND ?? 'auto').toLowerCase();
  if (b !== 'auto' && b !== 'cpu' && b !== 'cuda') throw new Error(`reclin: RECLIN_BACKEND=${b} is not allowed (allowed: auto, cpu, cuda)`);
  return b;
}

export function loadAddon(): LoadedAddon {
  if (loaded) return loaded;
  const candidates = findBinaries();
  if (candidates.length === 0) {
    throw new Error(
      'reclin: no native addon is built. Run `npm run build:native` (needs a C++17 compiler and cmake >= 3.24), ' +
        'or install a package with prebuilt binaries.',
    );
  }
  const backend = backendFromEnv();
  let probe: CudaProbe | undefined;
  const firstCuda = candidates.find((c) => c.kind === 'cuda');
  if (firstCuda && backend !== 'cpu') {
    try {
      probe = (require(firstCuda.path) as { cudaProbe(): CudaProbe }).cudaProbe();
    } catch (e) {
      probe = { ok: false, error: `could not load ${firstCuda.path}: ${(e as Error).message}`, devices: [] };
    }
  }
  const choice = chooseBinary(candidates, probe, backend);
  if (choice.warning && process.env.RECLIN_QUIET !== '1') process.stderr.write(choice.warning + '\n');
  const binding = require(choice.candidate.path) as RawBinding;
  loaded = { binding, path: choice.candidate.path, reason: `${choice.reason}; ${choice.candidate.origin}`, probe, candidates };
  return loaded;
}

export function native(): RawBinding {
  return loadAddon().binding;
}

/** A raw export by name, or undefined when this binary lacks it (a CPU build has no *Cuda twins). */
export function findOp(name: string): ((...args: unknown[]) => unknown) | undefined {
  const fn = (native() as unknown as Record<string, unknown>)[name];
  return typeof fn === 'function' ? (fn as (...args: unknown[]) => unknown) : undefined;
}

/** A raw op by its exported name, with a clear error if this binary lacks it. */
export function op<F extends (...args: any[]) => any>(name: string): F {
  const fn = findOp(name);
  if (!fn) throw new Error(`reclin: the loaded addon (${loadAddon().path}) has no op '${name}'; rebuild with npm run build:native`);
  return fn as F;
}
