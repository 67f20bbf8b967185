// Seeded, order-independent initialisation: each parameter draws from its own stream, seeded by the model
// seed and the parameter's name, so adding or reordering modules never changes another parameter's values.
import { mulberry32 } from '../data/rng';
import { Tensor } from '../tensor';

/** FNV-1a over the name, mixed with the seed. */
function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A uniform [0,1) generator (mulberry32) for one named parameter. */
export function paramRng(seed: number, name: string): () => number {
  return mulberry32(streamSeed(seed, name));
}

export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'constant'; value: number }
  /** fla KDA: A_log = log U(1, 16). */
  | { kind: 'a_log' }
  /** fla KDA: dt_bias = softplus⁻¹(dt), dt = exp(U(log 1e-3, log 1e-1)) clamped ≥ 1e-4. */
  | { kind: 'dt_bias' };

export function initValues(n: number, init: Init, seed: number, name: string): Float32Array {
  const out = new Float32Array(n);
  const r = paramRng(seed, name);
  switch (init.kind) {
    case 'constant':
      out.fill(init.value);
      break;
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = init.lo + (init.hi - init.lo) * r();
      break;
    case 'normal':
      for (let i = 0; i < n; i += 2) {
        const u = Math.max(r(), 1e-12);
        const v = r();
        const m = Math.sqrt(-2 * Math.log(u)) * init.std;
        out[i] = m * Math.cos(2 * Math.PI * v);
        if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
      }
      break;
    case 'a_log':
      for (let i = 0; i < n; i++) out[i] = Math.log(1 + 15 * r());
      break;
    case 'dt_bias':
      for (let i = 0; i < n; i++) {
        const dt = Math.max(Math.exp(Math.log(1e-3) + (Math.log(1e-1) - Math.log(1e-3)) * r()), 1e-4);
        out[i] = dt + Math.log(-Math.expm1(-dt)); // inverse softplus
      }
      break;
  }
  return out;
}

export function initTensor(shape: number[], init: Init, seed: number, name: string): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(initValues(n, init, seed, name), shape);
}
