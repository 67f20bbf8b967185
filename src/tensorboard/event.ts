// The subset of TensorFlow's Event / Summary protos that we write and read (field numbers in docs/design/formats.md §5).
// Wire encoding is @bufbuild/protobuf's BinaryWriter/BinaryReader; the message layouts are written out
// here by hand because generating code from TensorFlow's .proto files would add a build step for six messages.
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export interface TBScalar {
  tag: string;
  value: number;
}
export interface TBText {
  tag: string;
  text: string;
}
export interface TBHistogram {
  tag: string;
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edge of each bucket (TensorBoard takes the left edge of the first bucket to be `min`). */
  bucketLimit: number[];
  bucket: number[];
}
/** One event record. wallTime is in seconds since the Unix epoch. */
export interface TBEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: TBScalar[];
  texts?: TBText[];
  histograms?: TBHistogram[];
}

const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DT_STRING = 7;

// ---------------------------------------------------------------------------------------------- encoding

export function encodeEvent(ev: TBEvent): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Bit64).double(ev.wallTime);
  if (ev.step !== 0) w.tag(2, WireType.Varint).int64(ev.step);
  if (ev.fileVersion !== undefined) w.tag(3, WireType.LengthDelimited).string(ev.fileVersion);
  const values = (ev.scalars?.length ?? 0) + (ev.texts?.length ?? 0) + (ev.histograms?.length ?? 0);
  if (values > 0) {
    w.tag(5, WireType.LengthDelimited).fork();
    for (const s of ev.scalars ?? []) {
      w.tag(1, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(s.tag);
      w.tag(2, WireType.Bit32).float(s.value);
      w.join();
    }
    for (const t of ev.texts ?? []) encodeTextValue(w, t);
    for (const h of ev.histograms ?? []) encodeHistogramValue(w, h);
    w.join();
  }
  return w.finish();
}

// Text as TensorBoard's text plugin expects it: plugin "text" (its TextPluginData{version:0} content
// serializes to zero bytes) and a DT_STRING tensor of shape [1] holding the UTF-8 text.
function encodeTextValue(w: BinaryWriter, t: TBText): void {
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(t.tag);
  w.tag(9, WireType.LengthDelimited).fork(); // metadata
  w.tag(1, WireType.LengthDelimited).fork(); // plugin_data
  w.tag(1, WireType.LengthDelimited).string('text');
  w.join();
  w.join();
  w.tag(8, WireType.LengthDelimited).fork(); // tensor
  w.tag(1, WireType.Varint).int32(DT_STRING);
  w.tag(2, WireType.LengthDelimited).fork(); // tensor_shape
  w.tag(2, WireType.LengthDelimited).fork(); // dim
  w.tag(1, WireType.Varint).int64(1);
  w.join();
  w.join();
  w.tag(8, WireType.LengthDelimited).bytes(Buffer.from(t.text, 'utf8'));
  w.join();
  w.join();
}

function encodeHistogramValue(w: BinaryWriter, h: TBHistogram): void {
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(h.tag);
  w.tag(5, WireType.LengthDelimited).fork(); // histo
  w.tag(1, WireType.Bit64).double(h.min);
  w.tag(2, WireType.Bit64).double(h.max);
  w.tag(3, WireType.Bit64).double(h.num);
  w.tag(4, WireType.Bit64).double(h.sum);
  w.tag(5, WireType.Bit64).double(h.sumSquares);
  writePackedDoubles(w, 6, h.bucketLimit);
  writePackedDoubles(w, 7, h.bucket);
  w.join();
  w.join();
}

function writePackedDoubles(w: BinaryWriter, field: number, xs: number[]): void {
  if (xs.length === 0) return;
  w.tag(field, WireType.LengthDelimited).fork();
  for (const x of xs) w.double(x);
  w.join();
}

// ---------------------------------------------------------------------------------------------- decoding

/** Decodes one Event. Fields and summary kinds we do not model (graphs, images, ...) are skipped. */
export function decodeEvent(data: Uint8Array): TBEvent {
  const r = new BinaryReader(data);
  const ev: TBEvent = { wallTime: 0, step: 0 };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.Bit64) ev.wallTime = r.double();
    else if (field === 2 && wt === WireType.Varint) ev.step = Number(r.int64());
    else if (field === 3 && wt === WireType.LengthDelimited) ev.fileVersion = r.string();
    else if (field === 5 && wt === WireType.LengthDelimited) decodeSummary(r.bytes(), ev);
    else r.skip(wt, field);
  }
  return ev;
}

function decodeSummary(data: Uint8Array, ev: TBEvent): void {
  const r = new BinaryReader(data);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.LengthDelimited) decodeValue(r.bytes(), ev);
    else r.skip(wt, field);
  }
}

interface RawTensor {
  dtype: number;
  strings: Uint8Array[];
  floats: number[];
  doubles: number[];
  content?: Uint8Array;
}

function decodeValue(data: Uint8Array, ev: TBEvent): void {
  const r = new BinaryReader(data);
  let tag = '';
  let simple: number | undefined;
  let plugin: string | undefined;
  let histo: Omit<TBHistogram, 'tag'> | undefined;
  let tensor: RawTensor | undefined;
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.LengthDelimited) tag = r.string();
    else if (field === 2 && wt === WireType.Bit32) simple = r.float();
    else if (field === 5 && wt === WireType.LengthDelimited) histo = decodeHistogram(r.bytes());
    else if (field === 8 && wt === WireType.LengthDelimited) tensor = decodeTensor(r.bytes());
    else if (field === 9 && wt === WireType.LengthDelimited) plugin = decodePluginName(r.bytes());
    else r.skip(wt, field);
  }
  if (simple !== undefined) (ev.scalars ??= []).push({ tag, value: simple });
  else if (histo) (ev.histograms ??= []).push({ tag, ...histo });
  else if (tensor && plugin === 'text' && tensor.dtype === DT_STRING) {
    const text = tensor.strings.map((s) => Buffer.from(s).toString('utf8')).join('\n');
    (ev.texts ??= []).push({ tag, text });
  } else if (tensor && plugin === 'scalars') {
    // torch's new_style scalars: a rank-0 float tensor instead of simple_value.
    const value = tensorScalar(tensor);
    if (value !== undefined) (ev.scalars ??= []).push({ tag, value });
  }
}

function tensorScalar(t: RawTensor): number | undefined {
  if (t.dtype === DT_FLOAT) {
    if (t.floats.length > 0) return t.floats[0];
    if (t.content && t.content.length >= 4) return Buffer.from(t.content).readFloatLE(0);
  } else if (t.dtype === DT_DOUBLE) {
    if (t.doubles.length > 0) return t.doubles[0];
    if (t.content && t.content.length >= 8) return Buffer.from(t.content).readDoubleLE(0);
  }
  return undefined;
}

function decodePluginName(metadata: Uint8Array): string | undefined {
  const r = new BinaryReader(metadata);
  let name: string | undefined;
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.LengthDelimited) {
      const p = new BinaryReader(r.bytes());
      while (p.pos < p.len) {
        const [f, w] = p.tag();
        if (f === 1 && w === WireType.LengthDelimited) name = p.string();
        else p.skip(w, f);
      }
    } else r.skip(wt, field);
  }
  return name;
}

function decodeHistogram(data: Uint8Array): Omit<TBHistogram, 'tag'> {
  const r = new BinaryReader(data);
  const h: Omit<TBHistogram, 'tag'> = { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field >= 1 && field <= 5 && wt === WireType.Bit64) {
      const x = r.double();
      if (field === 1) h.min = x;
      else if (field === 2) h.max = x;
      else if (field === 3) h.num = x;
      else if (field === 4) h.sum = x;
      else h.sumSquares = x;
    } else if (field === 6 || field === 7) readDoubles(r, wt, field === 6 ? h.bucketLimit : h.bucket, field);
    else r.skip(wt, field);
  }
  return h;
}

function decodeTensor(data: Uint8Array): RawTensor {
  const r = new BinaryReader(data);
  const t: RawTensor = { dtype: 0, strings: [], floats: [], doubles: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.Varint) t.dtype = r.int32();
    else if (field === 4 && wt === WireType.LengthDelimited) t.content = r.bytes();
    else if (field === 5 && (wt === WireType.LengthDelimited || wt === WireType.Bit32)) readFloats(r, wt, t.floats);
    else if (field === 6) readDoubles(r, wt, t.doubles, field);
    else if (field === 8 && wt === WireType.LengthDelimited) t.strings.push(r.bytes());
    else r.skip(wt, field);
  }
  return t;
}

// Repeated doubles may arrive packed (one length-delimited run) or one per tag; parsers must accept both.
function readDoubles(r: BinaryReader, wt: WireType, out: number[], field: number): void {
  if (wt === WireType.Bit64) out.push(r.double());
  else if (wt === WireType.LengthDelimited) {
    const end = r.uint32() + r.pos;
    while (r.pos < end) out.push(r.double());
  } else r.skip(wt, field);
}

function readFloats(r: BinaryReader, wt: WireType, out: number[]): void {
  if (wt === WireType.Bit32) out.push(r.float());
  else {
    const end = r.uint32() + r.pos;
    while (r.pos < end) out.push(r.float());
  }
}
