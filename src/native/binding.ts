// The typed raw binding: exactly what the addon exports (native/*.cc; the CUDA build adds the *Cuda twins of
// cuda/*.cu and the runtime exports). User-facing classes wrap these (src/storage, src/ops). An op file that
// adds a RECLIN_EXPORT adds its signature here; test/fuzz-native-child.ts attacks every one of them.

export type DTypeName = 'f32' | 'i32' | 'bf16';

export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DTypeName;
  readonly device: string;
  readonly disposed: boolean;
  dispose(): void;
  toArray(): Float32Array | Int32Array;
}

export interface MemoryStats {
  hostBytes: number;
  deviceBytes: number;
  peakHostBytes: number;
  liveStorages: number;
  liveTensors: number;
}

/** The OpenMP team policy (native/threads.h). */
export interface ThreadInfo {
  /** The team the next op uses. */
  threads: number;
  /** The user's fixed count, or the cores reclin may run on. */
  maxThreads: number;
  /** True until a count is fixed (setNumThreads or OMP_NUM_THREADS): the team then follows the free cores. */
  followsLoad: boolean;
}

export type KernelVariant = 'avx512' | 'avx2' | 'scalar';
export interface CpuFeatures {
  avx2?: boolean;
  fma?: boolean;
  avx512f?: boolean;
  avx512bw?: boolean;
  avx512dq?: boolean;
  avx512vl?: boolean;
}

type T = NativeTensor;
type Opts = Record<string, unknown>;

/** The ops, by exported name. Each CUDA twin (`${name}Cuda`) has the same signature. */
export interface RawOps {
  activation(x: T, kind: 'silu' | 'sigmoid' | 'softplus'): T;
  activationBackward(dy: T, xOrY: T, kind: 'silu' | 'sigmoid' | 'softplus'): T;
  swiglu(gate: T, up: T): T;
  swigluBackward(dy: T, gate: T, up: T): { dGate: T; dUp: T };
  adamwStep(params: T[], grads: T[], m: T[], v: T[], opts: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void;
  /** probsBudget / probs: CPU only (the CUDA twins ignore them: probs stays null). */
  causalAttention(q: T, k: T, v: T, opts?: { scale?: number; probsBudget?: number }): { o: T; lse: T; probs: T | null };
  causalAttentionBackward(dO: T, q: T, k: T, v: T, o: T, lse: T, opts?: { scale?: number; probs?: T }): { dq: T; dk: T; dv: T };
  /** CPU only (no CUDA twin): MLAttention falls back to slice/concat on other devices. */
  mlaKV(kv: T, src: T, opts: { nope: number; ropeStart: number }): { k: T; v: T };
  mlaKVBackward(dk: T, dv: T, opts: { nope: number; ropeStart: number; C: number }): { dkv: T; dsrc: T };
  mlaLatentNorm(src: T, weight: T, opts: { rank: number; eps: number }): { y: T; rstd: T };
  mlaLatentNormBackward(dy: T, src: T, weight: T, rstd: T, opts: { rank: number; into?: T }): { dsrc: T | null; dWeight: T };
  shortConv(x: T, w: T): T;
  shortConvBackward(dy: T, x: T, w: T): { dx: T; dw: T };
  binary(a: T, b: T, kind: 'add' | 'sub' | 'mul' | 'div'): T;
  unary(x: T, kind: string, s?: number): T;
  full(shape: number[], value: number): T;
  copy(x: T): T;
  /** A copy as f32 or bf16 (from f32 or bf16; to bf16 rounds to nearest even). */
  cast(x: T, dtype: 'f32' | 'bf16'): T;
  addInPlace(dst: T, src: T, alpha: number): void;
  scaleInPlace(dst: T, s: number): void;
  copyInPlace(dst: T, src: T): void;
  embedding(weight: T, ids: T): T;
  embeddingBackward(dOut: T, ids: T, V: number): T;
  kdaForward(q: T, k: T, v: T, g: T, beta: T, opts: Opts): { o: T; finalState: T };
  kdaBackward(q: T, k: T, v: T, g: T, beta: T, dO: T, opts: Opts): { dq: T; dk: T; dv: T; dg: T; dbeta: T; dInitialState: T | null };
  crossEntropy(logits: T, targets: T, opts?: { ignoreIndex?: number }): { loss: T; lse: T };
  crossEntropyBackward(dLoss: T, logits: T, targets: T, lse: T, opts?: { ignoreIndex?: number }): T;
  matmul(a: T, b: T, opts?: { transA?: boolean; transB?: boolean; alpha?: number }): T;
  matmulAccumulate(c: T, a: T, b: T, opts?: { transA?: boolean; transB?: boolean; alpha?: number }): void;
  rmsnorm(x: T, weight: T | null, eps: number): { y: T; rstd: T };
  rmsnormBackward(dy: T, x: T, weight: T | null, rstd: T): { dx: T; dWeight: T | null };
  l2norm(x: T, eps: number): { y: T; rnorm: T };
  l2normBackward(dy: T, y: T, rnorm: T): T;
  sumDims(x: T, dims: number[], keepDim: boolean, mean: boolean): T;
  sumToShape(x: T, shape: number[]): T;
  sumSquares(tensors: T[]): number;
  softmax(x: T): T;
  argmax(x: T): T;
  concat(tensors: T[], dim: number): T;
  slice(x: T, dim: number, start: number, end: number): T;
  sliceBackward(dy: T, inputShape: number[], dim: number, start: number): T;
  sliceAccumulate(dst: T, dy: T, dim: number, start: number): void;
  transpose(x: T, dim0: number, dim1: number): T;
}

interface RawBindingBase extends RawOps {
  NativeTensor: Function;
  fromArray(data: Float32Array | Int32Array | Uint16Array, shape: number[], dtype: DTypeName, device: string): NativeTensor;
  zeros(shape: number[], dtype: DTypeName, device: string): NativeTensor;
  reshape(t: NativeTensor, shape: number[]): NativeTensor;
  /** Whether another live handle (a reshape view) shares t's storage. */
  storageShared(t: NativeTensor): boolean;
  toDevice(t: NativeTensor, device: string): NativeTensor;
  memory(): MemoryStats;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  threadInfo(): ThreadInfo;
  buildInfo(): { cuda: boolean; openmp: boolean; compiler: string };
  /** Which kernel variants run on this CPU (RECLIN_GEMM_KERNEL, RECLIN_KDA_ISA, RECLIN_VEC force others). */
  gemmKernel(): KernelVariant;
  kdaIsa(): KernelVariant;
  vecKernel(): KernelVariant;
  cpuFeatures(): CpuFeatures;
  /** Forces the AdamW kernel variant ('auto' restores the dispatch; no argument only asks); returns the one in use. */
  adamwUseKernel(name?: 'auto' | KernelVariant): KernelVariant;
}

/** The CUDA twins of the ops, present in CUDA builds only; sumSquaresCuda returns a device scalar [1] (no wait). */
export type CudaOps = { [K in Exclude<keyof RawOps, 'sumSquares'> as `${K}Cuda`]?: RawOps[K] } & {
  sumSquaresCuda?(tensors: T[]): T;
  /** The global norm before clipping as [1]; grads scaled in place on the device when it exceeds maxNorm. */
  clipGradNormCuda?(grads: T[], maxNorm: number | null): T;
};

export interface RawBinding extends RawBindingBase, CudaOps {
  // CUDA builds only: the device runtime (cuda/runtime.cu).
  cudaProbe?(): { ok: boolean; error?: string; driverVersion?: number; devices: { name: string; major: number; minor: number }[] };
  cudaArchitectures?(): string;
  /** Waits for the device's stream; throws a failed device-side check (cuda/device_check.cuh) as a RangeError. */
  cudaSynchronize?(device?: number): void;
  cudaEmptyCache?(device?: number): void;
  /** Loads cuBLASLt from the first candidate file that loads (once per process); see src/native/cublas.ts. */
  cublasLoad?(candidates: string[], opts: { allowTf32: boolean }): import('./cublas').GemmBackendStatus;
  gemmBackendCuda?(): import('./cublas').GemmBackendStatus;
  cudaCachedBytes?(device?: number): number;
}
