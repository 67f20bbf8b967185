// Which native binary to load: a pure function of what is installed and what the CUDA probe saw, so the
// choice is testable on machines without a GPU. The loader (loader.ts) gathers the inputs and applies it.

export interface BinaryCandidate {
  path: string;
  kind: 'cpu' | 'cuda';
  /** CMake-style architectures the binary carries: '90-real' (SASS for sm_90), '90-virtual' (PTX). */
  archs: string[];
  origin: string; // 'RECLIN_ADDON' | 'local build' | 'prebuilt'
}

export interface CudaProbe {
  ok: boolean;
  error?: string;
  driverVersion?: number;
  devices: { name: string; major: number; minor: number }[];
}

export type Backend = 'auto' | 'cpu' | 'cuda';

export interface Choice {
  candidate: BinaryCandidate;
  reason: string;
  /** One line for the user when a GPU binary they built or named, or a GPU they have, could not be used. */
  warning?: string;
}

/** The oldest GPU generation our kernels support (Ampere, sm_80). */
export const MIN_COMPUTE_CAPABILITY = 80;

function parseArch(a: string): { cc: number; real: boolean } | undefined {
  const m = /^(\d+)(?:-(real|virtual))?$/.exec(a.trim());
  if (!m) return undefined;
  return { cc: Number(m[1]), real: m[2] !== 'virtual' };
}

/**
 * For a device of compute capability `cc` (e.g. 90), the CUDA binary that runs best on it:
 * SASS of the same major at the nearest lower-or-equal minor, else the highest PTX <= cc (JIT-compiled).
 */
export function pickCudaBinary(cands: BinaryCandidate[], cc: number): { candidate: BinaryCandidate; how: string } | undefined {
  let best: { candidate: BinaryCandidate; score: number; how: string } | undefined;
  for (const c of cands) {
    if (c.kind !== 'cuda') continue;
    for (const a of c.archs.map(parseArch)) {
      if (!a || a.cc > cc) continue;
      let score: number;
      let how: string;
      if (a.real && Math.floor(a.cc / 10) === Math.floor(cc / 10)) {
        score = 1000 + a.cc;
        how = `SASS for sm_${a.cc}`;
      } else if (!a.real) {
        score = a.cc;
        how = `PTX for compute_${a.cc}, JIT-compiled for sm_${cc}`;
      } else continue;
      if (!best || score > best.score) best = { candidate: c, score, how };
    }
  }
  return best && { candidate: best.candidate, how: best.how };
}

export function chooseBinary(cands: BinaryCandidate[], probe: CudaProbe | undefined, backend: Backend): Choice {
  const cpu = cands.find((c) => c.kind === 'cpu');
  const cudas = cands.filter((c) => c.kind === 'cuda');
  const fallback = (why: string, warn: boolean): Choice => {
    if (!cpu) throw new Error(`reclin: ${why}, and no CPU binary is installed either (npm run build:native)`);
    return { candidate: cpu, reason: `CPU binary (${why})`, warning: warn ? `reclin: using the CPU backend: ${why}` : undefined };
  };

  if (backend === 'cpu') return fallback('RECLIN_BACKEND=cpu', false);
  if (cudas.length === 0) {
    if (backend === 'cuda') throw new Error('reclin: RECLIN_BACKEND=cuda but no CUDA binary is installed; build one with `npm run build:cuda`');
    return fallback('no CUDA binary installed', false);
  }
  if (!probe || !probe.ok) {
    const why = `no usable CUDA device (${probe?.error ?? 'probe failed'})`;
    if (backend === 'cuda') throw new Error(`reclin: RECLIN_BACKEND=cuda but ${why}. Needs an NVIDIA driver for CUDA 13 (>= 580) and a GPU of compute capability >= 8.0`);
    // Prebuilt CUDA binaries ship to everyone: a machine without a GPU is no news to its user. Someone who built
    // or named a CUDA binary expects it to run, so they hear why it does not (doctor tells everyone).
    return fallback(why, cudas.some((c) => c.origin !== 'prebuilt'));
  }
  const dev = probe.devices[0];
  const cc = dev.major * 10 + dev.minor;
  if (cc < MIN_COMPUTE_CAPABILITY) {
    const why = `${dev.name} is sm_${cc}; reclin's CUDA kernels need sm_${MIN_COMPUTE_CAPABILITY} or newer`;
    if (backend === 'cuda') throw new Error(`reclin: RECLIN_BACKEND=cuda but ${why}`);
    return fallback(why, true);
  }
  const pick = pickCudaBinary(cudas, cc);
  if (!pick) {
    const have = cudas.map((c) => c.archs.join('+')).join(', ');
    const why = `no installed CUDA binary runs on ${dev.name} (sm_${cc}); installed: ${have}`;
    if (backend === 'cuda') throw new Error(`reclin: RECLIN_BACKEND=cuda but ${why}. Build one: npm run build:cuda -- --arch=${cc}`);
    return fallback(why, true);
  }
  return { candidate: pick.candidate, reason: `CUDA binary for ${dev.name} (sm_${cc}): ${pick.how}` };
}
