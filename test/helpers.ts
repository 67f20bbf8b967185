// Shared test helpers: a seeded RNG, float64 references' comparison metric, and Python interop discovery.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Deterministic PRNG (mulberry32) so every test input is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard-normal samples (Box–Muller) scaled by `scale`. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** n uniform samples in [lo, hi). */
export function uniform(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** flash-linear-attention's metric: RMS(ref − x) / RMS(ref). */
export function rmsRel(ref: ArrayLike<number>, x: ArrayLike<number>): number {
  if (ref.length !== x.length) throw new Error(`rmsRel: lengths differ (${ref.length} vs ${x.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = ref[i] - x[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}

/** Asserts rmsRel(ref, x) <= tol with a message naming what was compared. */
export function assertClose(name: string, ref: ArrayLike<number>, x: ArrayLike<number>, tol: number): void {
  const e = rmsRel(ref, x);
  if (!(e <= tol)) throw new Error(`${name}: RMS-relative error ${e.toExponential(3)} > ${tol}`);
}

/**
 * The Python interpreter for interop tests (real TensorBoard, safetensors, PyTorch read our files).
 * RECLIN_PYTHON, else ./.venv/bin/python (made by .ci/run), else python3. Returns undefined when the
 * interpreter lacks one of `modules`: callers skip with the returned reason, unless interop is required.
 */
export function pythonWith(modules: string[]): { python?: string; missing?: string } {
  const root = path.resolve(__dirname, '..');
  const candidates = [process.env.RECLIN_PYTHON, path.join(root, '.venv', 'bin', 'python'), 'python3'].filter(Boolean) as string[];
  for (const py of candidates) {
    if (py !== 'python3' && !fs.existsSync(py)) continue;
    const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ') || 'pass'], { encoding: 'utf8' });
    if (r.status === 0) return { python: py };
  }
  return { missing: `needs Python with: ${modules.join(', ')} (python3 -m pip install ${modules.join(' ')}; or set RECLIN_PYTHON)` };
}

/**
 * True when a test that cannot find its independent reference (Python packages, the CUDA compile check) must fail
 * instead of skipping. `.ci/run` sets RECLIN_REQUIRE_INTEROP=1; on a developer's machine the tests skip with a
 * message naming what is missing.
 */
export const interopRequired = process.env.RECLIN_REQUIRE_INTEROP === '1';

/** For node:test: a skip reason when Python modules are missing, or a failure when interop is required. */
export function requirePython(modules: string[]): { python: string } | { skip: string } {
  const p = pythonWith(modules);
  if (p.python) return { python: p.python };
  if (interopRequired) throw new Error(`interop test ${p.missing}; RECLIN_REQUIRE_INTEROP=1 requires it (.ci/run installs it)`);
  return { skip: p.missing! };
}

/** Runs a Python script with arguments; throws with its stderr on failure; returns stdout. */
export function runPython(python: string, script: string, args: string[] = []): string {
  const r = spawnSync(python, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}
