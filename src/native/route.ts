// The one place that decides which kernels run for a device: CPU ops are the addon's exports by name (native/*.cc),
// CUDA ops their `${name}Cuda` twins (cuda/*.cu), present only in a CUDA build. Every op (KDA and AdamW included)
// reaches it through kernelForArgs() in ops/native-call.ts, which picks the device; the helpers below use it too.
import { ensureGemmBackend } from './cublas';
import { findOp, loadAddon, native } from './loader';

export type DeviceBackend = 'cpu' | 'cuda';

/** The backend of a device name ('cpu', 'cuda', 'cuda:N'); anything else is refused with the allowed forms. */
export function backendOf(device: string): DeviceBackend {
  if (device === 'cpu') return 'cpu';
  if (device === 'cuda' || /^cuda:\d+$/.test(device)) return 'cuda';
  throw new RangeError(`device: unknown device ${JSON.stringify(device)} (allowed: cpu, cuda, cuda:N)`);
}

/** The CUDA device index of 'cuda' / 'cuda:N' (0 for 'cuda'). */
export function cudaIndex(device: string): number {
  return device === 'cuda' ? 0 : Number(device.slice('cuda:'.length));
}

/** The raw kernel of op `name` for tensors on `device`: the CPU export, or its CUDA twin. */
export function kernelFor<F extends (...args: any[]) => any>(name: string, device: string): F {
  if (backendOf(device) === 'cpu') {
    const fn = findOp(name);
    if (!fn) throw new Error(`reclin: the loaded addon (${loadAddon().path}) has no op '${name}'; rebuild with npm run build:native`);
    return fn as F;
  }
  const fn = findOp(`${name}Cuda`);
  if (fn) {
    if (name === 'matmul' || name.startsWith('moeExperts')) ensureGemmBackend();  // loads cuBLASLt once, before the first CUDA GEMM
    return fn as F;
  }
  if (!native().buildInfo().cuda)
    throw new Error(`reclin: a tensor is on ${device} but the loaded addon (${loadAddon().path}) is a CPU build; build the CUDA one with npm run build:cuda`);
  throw new Error(`reclin: op ${name} has no CUDA kernel yet (move its tensors to the cpu with .to('cpu'))`);
}

/**
 * Why `device` cannot run ops in this process, or null when it can ('cpu' always can). Loads the addon: a CUDA
 * device needs the CUDA binary to have been chosen (a GPU and driver were found) and the index to exist.
 */
export function deviceProblem(device: string): string | null {
  if (backendOf(device) === 'cpu') return null;
  const a = loadAddon();
  if (!a.binding.buildInfo().cuda) return `reclin runs its CPU build: ${a.reason}`;
  const n = a.probe?.devices.length ?? 0;
  const i = cudaIndex(device);
  if (i >= n) return `there is no cuda:${i} (${n} CUDA device${n === 1 ? '' : 's'} found)`;
  return null;
}

/**
 * Why a CUDA device cannot compute in bf16, or null. bf16 arithmetic (and cuBLASLt's bf16 GEMMs) needs compute
 * capability 8.0 (Ampere) or later; older cards train in fp32.
 */
export function bf16Problem(device: string): string | null {
  if (backendOf(device) === 'cpu') return 'the CPU kernels compute in fp32';
  const dev = loadAddon().probe?.devices[cudaIndex(device)];
  if (dev && dev.major < 8) return `${dev.name} is compute capability ${dev.major}.${dev.minor}; bf16 needs 8.0 or later`;
  return null;
}

/**
 * Waits for the queued work of a device and reports a failed device-side check (a KDA gate > 0, a cross-entropy
 * target or an embedding id out of range, found by a kernel since the last synchronisation) as an error naming
 * the op, the value and where it was. Reading any tensor to the host does the same; this is for code that reads
 * nothing. No-op on the CPU, whose ops check before they return.
 */
export function syncCheck(device = 'cuda'): void {
  if (backendOf(device) === 'cpu') return;
  const sync = native().cudaSynchronize;
  if (!sync) throw new Error(`reclin: syncCheck(${JSON.stringify(device)}): the loaded addon is a CPU build`);
  sync(cudaIndex(device));
}
