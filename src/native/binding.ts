// The typed raw binding: exactly what the addon exports. User-facing classes wrap these (src/tensor, src/ops).
// An op file in native/ that adds a RECLIN_EXPORT adds its signature here.

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

export interface RawBinding {
  NativeTensor: Function;
  fromArray(data: Float32Array | Int32Array, shape: number[], dtype: DTypeName, device: string): NativeTensor;
  zeros(shape: number[], dtype: DTypeName, device: string): NativeTensor;
  reshape(t: NativeTensor, shape: number[]): NativeTensor;
  toDevice(t: NativeTensor, device: string): NativeTensor;
  memory(): MemoryStats;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  buildInfo(): { cuda: boolean; openmp: boolean; compiler: string };
  // Op exports are added by each native/*.cc file; they are reached through `op(name)` until typed here.
  [op: string]: unknown;
}
