// A seeded, savable random number generator (xoshiro128**, seeded through splitmix32).
// Its whole state is four uint32 words, so it goes into trainer_state.json as plain numbers and a resumed
// run draws exactly the numbers the straight run would have drawn.

export interface RngState {
  algorithm: 'xoshiro128**';
  s: [number, number, number, number];
}

/** A small uniform [0,1) generator (mulberry32) for fixed, reproducible draws that need no saved state. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitmix32(x: number): () => number {
  let a = x >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Mixes several integers (seed, epoch, index, ...) into one 32-bit seed; order matters. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new RangeError(`mixSeed: expected finite numbers, got ${p}`);
    // Split into two 32-bit halves so seeds above 2^32 still change the result.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = splitmix32(h ^ lo)();
    h = splitmix32(h ^ hi)();
  }
  return h >>> 0;
}

export class Rng {
  private s = new Uint32Array(4);

  private constructor() {}

  /** A generator seeded from any integer (or several, mixed with mixSeed). */
  static seeded(...seed: number[]): Rng {
    for (const x of seed) {
      if (!Number.isInteger(x)) throw new RangeError(`seed: expected an integer, got ${x}`);
    }
    const r = new Rng();
    const sm = splitmix32(mixSeed(...seed));
    for (let i = 0; i < 4; i++) r.s[i] = sm();
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) === 0) r.s[0] = 1; // xoshiro must not be all-zero
    return r;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng();
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  setState(state: RngState): void {
    if (!state || state.algorithm !== 'xoshiro128**' || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new TypeError(`rng state: expected {algorithm: 'xoshiro128**', s: [4 uint32]}, got ${JSON.stringify(state)}`);
    }
    state.s.forEach((w, i) => {
      if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new RangeError(`rng state: s[${i}] must be a uint32, got ${w}`);
    });
    if (state.s.every((w) => w === 0)) throw new RangeError('rng state: all-zero state is invalid');
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i];
  }

  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`int(n): n must be an integer in [1, 2^32], got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Box–Muller; no cached spare, so the state stays four words). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1]
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
