// Our own safetensors reader/writer (no maintained npm package exists). Format (huggingface/safetensors
// README, "Format"): u64-LE header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" string map, then the packed little-endian row-major data. We pad the header with
// spaces to an 8-byte boundary and order tensors by element size (largest first), then name, as the
// reference writer does, so every tensor starts aligned to its element size inside the file.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tensor } from '../storage/tensor';
import { fsyncDir, tempPathFor } from './atomic';

export type SafetensorsDType = 'F64' | 'F32' | 'BF16' | 'F16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'BOOL';
export type TensorArray = Float64Array | Float32Array | Uint16Array | Int16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A tensor as stored: BF16 and F16 data are raw 16-bit patterns (Uint16Array); BOOL is Uint8Array. */
export interface TensorData {
  dtype: SafetensorsDType;
  shape: number[];
  data: TensorArray;
}

/**
 * What the writer accepts: a reclin Tensor (f32 -> F32, i32 -> I32, bf16 -> BF16), or plain data. For plain
 * BF16/F16 give the raw bits as Uint16Array; BF16 may also be given as Float32Array (rounded to nearest even).
 */
export type TensorEntry = Tensor | { dtype: SafetensorsDType; shape: readonly number[]; data: ArrayLike<number> | TensorArray };

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const ELEMENT_SIZE: Record<SafetensorsDType, number> = { F64: 8, I64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
const ARRAY_OF: Record<SafetensorsDType, { new (b: ArrayBuffer, o: number, n: number): TensorArray; new (n: number): TensorArray }> = {
  F64: Float64Array, F32: Float32Array, BF16: Uint16Array, F16: Uint16Array, I64: BigInt64Array, I32: Int32Array,
  I16: Int16Array, U16: Uint16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
} as never;
export const SAFETENSORS_DTYPES = Object.keys(ELEMENT_SIZE) as SafetensorsDType[];

function assertLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new SafetensorsError('safetensors: big-endian hosts are not supported (the format is little-endian)');
}

/** float32 -> bfloat16 bit pattern, round to nearest even; NaN stays a (quiet) NaN. */
export function float32ToBf16Bits(src: Float32Array): Uint16Array {
  const u32 = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u32[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x0040;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bfloat16 bit pattern -> float32 (exact). */
export function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** float32 values of a stored tensor (widening BF16; F16 and 64-bit types are converted too). */
export function tensorDataToFloat32(t: TensorData): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  if (t.dtype === 'BF16') return bf16BitsToFloat32(t.data as Uint16Array);
  if (t.dtype === 'F16') {
    const bits = t.data as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) {
      const h = bits[i];
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    return out;
  }
  if (t.dtype === 'I64') return Float32Array.from(t.data as BigInt64Array, (v) => Number(v));
  return Float32Array.from(t.data as ArrayLike<number>);
}

function isReclinTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && typeof (x as Tensor).toFloat32Array === 'function' && typeof (x as { dtype?: unknown }).dtype === 'string' && ['f32', 'i32', 'bf16'].includes((x as Tensor).dtype);
}

function numelOf(shape: readonly number[], what: string): number {
  if (!Array.isArray(shape)) throw new SafetensorsError(`${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new SafetensorsError(`${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    n *= d;
  }
  return n;
}

/** Normalises one writer entry to stored form (dtype, shape, typed array of that dtype). */
export function toTensorData(name: string, entry: TensorEntry): TensorData {
  const what = `tensor "${name}"`;
  if (isReclinTensor(entry)) {
    try {
      return fromReclinTensor(entry);
    } catch (e) {
      throw new SafetensorsError(`${what}: cannot read the tensor (${(e as Error).message})`);
    }
  }
  return fromPlainEntry(what, entry);
}

function fromReclinTensor(entry: Tensor): TensorData {
  const shape = [...entry.shape];
  if (entry.dtype === 'i32') {
    const t = entry as Tensor & { toInt32Array?: () => Int32Array };
    const data = typeof t.toInt32Array === 'function' ? t.toInt32Array() : Int32Array.from(t.toFloat32Array());
    return { dtype: 'I32', shape, data };
  }
  const f = entry.toFloat32Array();
  return entry.dtype === 'bf16' ? { dtype: 'BF16', shape, data: float32ToBf16Bits(f) } : { dtype: 'F32', shape, data: f };
}

function fromPlainEntry(what: string, entry: TensorEntry): TensorData {
  if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(`${what}: expected a Tensor or { dtype, shape, data }, got ${entry === null ? 'null' : typeof entry}`);
  const { dtype, shape, data } = entry as { dtype: SafetensorsDType; shape: number[]; data: ArrayLike<number> };
  if (!SAFETENSORS_DTYPES.includes(dtype)) throw new SafetensorsError(`${what}: dtype must be one of ${SAFETENSORS_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  const n = numelOf(shape, what);
  if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number') throw new SafetensorsError(`${what}: data must be a typed array, got ${data === null ? 'null' : typeof data}`);
  if (data.length !== n) throw new SafetensorsError(`${what}: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  const Want = ARRAY_OF[dtype];
  let arr: TensorArray;
  if (data instanceof Want) arr = data as TensorArray;
  else if ((dtype === 'BF16') && data instanceof Float32Array) arr = float32ToBf16Bits(data);
  else if (dtype === 'BF16' || dtype === 'F16') throw new SafetensorsError(`${what}: ${dtype} data must be a Uint16Array of raw bits${dtype === 'BF16' ? ' or a Float32Array' : ''}, got ${data.constructor.name}`);
  else if (dtype === 'I64') arr = BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(Math.trunc(v)));
  else arr = (Want as unknown as { from(a: ArrayLike<number>): TensorArray }).from(data as ArrayLike<number>);
  return { dtype, shape: [...shape], data: arr };
}

function bytesOf(a: TensorArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Writes a .safetensors file atomically (temp file, fsync, rename). Returns its size and sha256.
 * `metadata` becomes the `__metadata__` string map.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorEntry>, metadata?: Record<string, string>): { bytes: number; sha256: string } {
  assertLittleEndian();
  if (typeof tensors !== 'object' || tensors === null) throw new SafetensorsError(`writeSafetensors: tensors must be an object mapping names to tensors, got ${tensors === null ? 'null' : typeof tensors}`);
  // reclin Tensors are read (from the GPU too) one at a time while writing, so no host copy of the whole set exists;
  // the header needs only their dtype and shape.
  type Pending = { dtype: SafetensorsDType; shape: number[]; byteLength: number; data: () => TensorData };
  const entries: [string, Pending][] = [];
  for (const [name, entry] of Object.entries(tensors)) {
    if (name.length === 0 || name === '__metadata__') throw new SafetensorsError(`writeSafetensors: tensor name ${JSON.stringify(name)} is not allowed`);
    if (isReclinTensor(entry)) {
      const dtype: SafetensorsDType = entry.dtype === 'i32' ? 'I32' : entry.dtype === 'bf16' ? 'BF16' : 'F32';
      const shape = [...entry.shape];
      const byteLength = shape.reduce((a, d) => a * d, 1) * ELEMENT_SIZE[dtype];
      entries.push([name, { dtype, shape, byteLength, data: () => toTensorData(name, entry) }]);
    } else {
      const t = toTensorData(name, entry);
      entries.push([name, { dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength, data: () => t }]);
    }
  }
  entries.sort((a, b) => ELEMENT_SIZE[b[1].dtype] - ELEMENT_SIZE[a[1].dtype] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`writeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));

  const tmp = tempPathFor(file);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(tmp, 'wx');
  let bytes = 0;
  const put = (b: Buffer) => {
    hash.update(b);
    let off = 0;
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
    bytes += b.length;
  };
  try {
    put(len);
    put(json);
    for (const [name, t] of entries) {
      const d = t.data();
      if (d.data.byteLength !== t.byteLength) throw new SafetensorsError(`tensor "${name}": changed size while being written`);
      put(bytesOf(d.data));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
  return { bytes, sha256: hash.digest('hex') };
}

export interface SafetensorsHeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses and validates the header (the reference implementation's rules); reads no tensor data. */
export function readSafetensorsHeader(file: string): { entries: Record<string, SafetensorsHeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  assertLittleEndian();
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(`${file}: too short to be a safetensors file (${size} bytes)`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE();
    if (n > BigInt(size - 8) || n > 100_000_000n) throw new SafetensorsError(`${file}: header length ${n} exceeds the file (${size} bytes)`);
    const headerBuf = Buffer.alloc(Number(n));
    fs.readSync(fd, headerBuf, 0, headerBuf.length, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new SafetensorsError(`${file}: header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(`${file}: header must be a JSON object`);
    const metadata: Record<string, string> = {};
    const entries: Record<string, SafetensorsHeaderEntry> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null) throw new SafetensorsError(`${file}: __metadata__ must be an object of strings`);
        for (const [k, v] of Object.entries(raw)) {
          if (typeof v !== 'string') throw new SafetensorsError(`${file}: __metadata__.${k} must be a string, got ${typeof v}`);
          metadata[k] = v;
        }
        continue;
      }
      const e = raw as Partial<SafetensorsHeaderEntry>;
      const what = `${file}: tensor "${name}"`;
      if (!e || !SAFETENSORS_DTYPES.includes(e.dtype as SafetensorsDType)) throw new SafetensorsError(`${what}: unsupported dtype ${JSON.stringify(e?.dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
      const numel = numelOf(e.shape as number[], what);
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[1] < off[0]) throw new SafetensorsError(`${what}: bad data_offsets ${JSON.stringify(off)}`);
      if (off[1] - off[0] !== numel * ELEMENT_SIZE[e.dtype!]) throw new SafetensorsError(`${what}: data_offsets span ${off[1] - off[0]} bytes but ${e.dtype} shape [${e.shape!.join(', ')}] needs ${numel * ELEMENT_SIZE[e.dtype!]}`);
      entries[name] = { dtype: e.dtype!, shape: [...e.shape!], data_offsets: [off[0], off[1]] };
    }
    // Offsets must tile the data buffer exactly: no holes, no overlaps, nothing left over.
    const sorted = Object.entries(entries).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
    let at = 0;
    for (const [name, e] of sorted) {
      if (e.data_offsets[0] !== at) throw new SafetensorsError(`${file}: tensor "${name}" starts at byte ${e.data_offsets[0]} of the data, expected ${at} (holes or overlaps are not allowed)`);
      at = e.data_offsets[1];
    }
    const dataStart = 8 + Number(n);
    if (dataStart + at !== size) throw new SafetensorsError(`${file}: tensors cover ${at} bytes of data but the file holds ${size - dataStart} (truncated or trailing bytes)`);
    return { entries, metadata, dataStart };
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads every tensor (copied into fresh, aligned typed arrays) and the `__metadata__` map. */
export function readSafetensors(file: string): { tensors: Record<string, TensorData>; metadata: Record<string, string> } {
  const { entries, metadata, dataStart } = readSafetensorsHeader(file);
  const tensors: Record<string, TensorData> = {};
  const fd = fs.openSync(file, 'r');
  try {
    for (const [name, e] of Object.entries(entries)) {
      const bytes = e.data_offsets[1] - e.data_offsets[0];
      const Arr = ARRAY_OF[e.dtype];
      const data = new Arr(bytes / ELEMENT_SIZE[e.dtype]);
      const view = bytesOf(data);
      let got = 0;
      while (got < bytes) {
        const r = fs.readSync(fd, view, got, bytes - got, dataStart + e.data_offsets[0] + got);
        if (r === 0) throw new SafetensorsError(`${file}: unexpected end of file reading tensor "${name}"`);
        got += r;
      }
      tensors[name] = { dtype: e.dtype, shape: e.shape, data };
    }
  } finally {
    fs.closeSync(fd);
  }
  return { tensors, metadata };
}
