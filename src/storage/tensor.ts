// The user-facing Tensor: a handle to native-owned memory.
// Free it with dispose() (or `using t = ...`); a FinalizationRegistry frees what users forget, and
// RECLIN_DEBUG_LEAKS=1 reports each tensor that had to be collected that way.
import type { DTypeName, NativeTensor } from '../native/binding';
import { native } from '../native/loader';
import { trackTensor } from './scope';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export interface TensorOptions {
  device?: Device;
  dtype?: DTypeName;
}

export class DisposedError extends Error {
  constructor(what: string) {
    super(`${what}: tensor was disposed`);
    this.name = 'DisposedError';
  }
}

const leakRegistry = new FinalizationRegistry<string>((desc) => {
  if (process.env.RECLIN_DEBUG_LEAKS === '1') process.emitWarning(`reclin: a tensor ${desc} was freed by the garbage collector; call dispose()`);
});

let defaultDevice: Device = 'cpu';

/**
 * Runs fn with `device` as where Tensor.from and Tensor.zeros put tensors that name no device (scoped, restored
 * afterwards even on a throw). The Trainer runs its steps and evaluation this way so every batch and every tensor
 * the model builds on the fly lands on the model's device.
 */
export function withDefaultDevice<T>(device: Device, fn: () => T): T {
  const prev = defaultDevice;
  defaultDevice = device;
  try {
    return fn();
  } finally {
    defaultDevice = prev;
  }
}

/** Where Tensor.from / Tensor.zeros put a tensor that names no device ('cpu' unless inside withDefaultDevice). */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

function checkShape(shape: readonly number[], what: string): number {
  if (!Array.isArray(shape)) throw new TypeError(`${what}: expected an array of dimensions, got ${typeof shape}`);
  let n = 1;
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${what}: dimension ${i} must be a non-negative integer at most 2^53-1, got ${d}`);
    n *= d;
  });
  return n;
}

export class Tensor {
  /** The raw native handle. Ops take these; users rarely need it. */
  readonly handle: NativeTensor;

  private constructor(handle: NativeTensor) {
    this.handle = handle;
    leakRegistry.register(this, `${JSON.stringify(handle.shape)} ${handle.dtype}`, this);
    trackTensor(this); // memory scopes (scope.ts) dispose it unless it is returned or kept
  }

  /** Wraps a handle returned by a native op. */
  static wrap(handle: NativeTensor): Tensor {
    return new Tensor(handle);
  }

  static from(data: Float32Array | Int32Array | ArrayLike<number>, shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const dtype: DTypeName = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
    const n = checkShape(shape, 'shape');
    let arr: Float32Array | Int32Array;
    if (dtype === 'i32') arr = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
    else arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    if (arr.length !== n) throw new RangeError(`data: has ${arr.length} elements but shape [${shape.join(',')}] needs ${n}`);
    return new Tensor(native().fromArray(arr, [...shape], dtype, opts.device ?? defaultDevice));
  }

  /** A bf16 tensor from raw bf16 bits (as a safetensors BF16 tensor stores them), copied unchanged. */
  static fromBf16Bits(bits: Uint16Array, shape: readonly number[], opts: { device?: Device } = {}): Tensor {
    const n = checkShape(shape, 'shape');
    if (!(bits instanceof Uint16Array)) throw new TypeError('bits: expected a Uint16Array of bf16 bit patterns');
    if (bits.length !== n) throw new RangeError(`bits: has ${bits.length} elements but shape [${shape.join(',')}] needs ${n}`);
    return new Tensor(native().fromArray(bits, [...shape], 'bf16', opts.device ?? defaultDevice));
  }

  static zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    checkShape(shape, 'shape');
    return new Tensor(native().zeros([...shape], opts.dtype ?? 'f32', opts.device ?? defaultDevice));
  }

  get shape(): number[] {
    return this.handle.shape;
  }
  get dtype(): DTypeName {
    return this.handle.dtype;
  }
  get device(): string {
    return this.handle.device;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  get size(): number {
    return this.handle.shape.reduce((a, b) => a * b, 1);
  }

  /** A copy of the data (bf16 is widened to f32). */
  toFloat32Array(): Float32Array {
    if (this.disposed) throw new DisposedError('toFloat32Array');
    const a = this.handle.toArray();
    return a instanceof Float32Array ? a : Float32Array.from(a);
  }

  toInt32Array(): Int32Array {
    if (this.disposed) throw new DisposedError('toInt32Array');
    const a = this.handle.toArray();
    return a instanceof Int32Array ? a : Int32Array.from(a);
  }

  /** A copy on another device ('cpu', 'cuda', 'cuda:N'). */
  to(device: Device): Tensor {
    if (this.disposed) throw new DisposedError('to');
    return new Tensor(native().toDevice(this.handle, device));
  }

  /** Whether another live tensor (a reshape view) shares this one's storage. */
  sharesStorage(): boolean {
    return native().storageShared(this.handle);
  }

  /** A view with a new shape over the same storage. */
  reshape(shape: readonly number[]): Tensor {
    if (this.disposed) throw new DisposedError('reshape');
    checkShape(shape, 'shape');
    return new Tensor(native().reshape(this.handle, [...shape]));
  }

  dispose(): void {
    leakRegistry.unregister(this);
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(',')}], ${this.device}${this.disposed ? ', disposed' : ''})`;
  }
}

/** Host and device bytes held by live tensors, and how many tensor handles are alive. */
export function memory() {
  return native().memory();
}

export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}

export function getNumThreads(): number {
  return native().getNumThreads();
}
