// A model directory as on the Hugging Face Hub: config.json + model.safetensors, or shards
// model-0000i-of-0000N.safetensors listed by model.safetensors.index.json.
//
// Reading accepts both layouts transformers knows for kimi_linear:
//   published (the Hub checkpoint, and what save_pretrained writes): self_attn.{q,k,v}_conv1d.weight [C,1,W],
//     self_attn.{f_a_proj,f_b_proj,A_log,dt_bias}, block_sparse_moe.* (save_pretrained also names dense MLPs
//     block_sparse_moe.*), per-expert block_sparse_moe.experts.{e}.w1/w2/w3.weight;
//   runtime (transformers' module names): self_attn.conv1d.weight [3C,1,W] (q, k, v stacked),
//     self_attn.forget_gate.*, mlp.*, fused mlp.experts.gate_up_proj [E,2I,d] and down_proj [E,d,I].
// Every parameter is assembled from contiguous element ranges of checkpoint tensors, read one tensor at a
// time from its shard and widened to f32 only for that parameter (BF16/F16/F32/F64 accepted), or, for a frozen
// base (LoadOptions.keepBf16), kept bf16 where every op that reads it takes bf16. Names or
// shapes that do not fit the config are refused with the tensor name and both shapes; a shard named by the
// index but absent is named. Writing produces the published layout, which KimiLinearForCausalLM.from_pretrained
// loads. Each file is written atomically; the index last.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../format/atomic';
import { type SafetensorsHeaderEntry, type TensorEntry, readSafetensorsHeader, tensorDataToFloat32, writeSafetensors } from '../format/safetensors';
import { type Device, type Parameter, Tensor } from '../tensor';
import { loadModelConfig } from './config';
import { KimiLinearLM, type ModelOptions } from './model';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

const ELEMENT_BYTES: Record<string, number> = { F64: 8, F32: 4, BF16: 2, F16: 2 };

/** One stored tensor: where it lives. */
interface Stored {
  name: string;
  file: string;
  entry: SafetensorsHeaderEntry;
  dataStart: number;
}

/** A contiguous element range [start, end) of a stored tensor. */
interface Piece {
  src: Stored;
  start: number;
  end: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const shapeStr = (s: readonly number[]) => `[${s.join(',')}]`;

/** The name both layouts map to: published KDA gate names, `mlp.` for every FFN. */
function canonical(name: string): string {
  return name.replace('.block_sparse_moe.', '.mlp.').replace('.self_attn.forget_gate.', '.self_attn.');
}

/** The stored tensors of a model directory (or of one .safetensors file), headers only. */
function listStored(where: string): { stored: Map<string, Stored>; what: string } {
  const stored = new Map<string, Stored>();
  const add = (file: string) => {
    const { entries, dataStart } = readSafetensorsHeader(file);
    for (const [name, entry] of Object.entries(entries)) {
      const c = canonical(name);
      if (stored.has(c)) throw new Error(`${where}: tensor ${name} appears twice (as ${stored.get(c)!.name} in ${stored.get(c)!.file})`);
      stored.set(c, { name, file, entry, dataStart });
    }
  };
  if (!fs.statSync(where).isDirectory()) {
    add(where);
    return { stored, what: where };
  }
  const index = path.join(where, INDEX_FILE);
  if (fs.existsSync(index)) {
    let map: Record<string, string>;
    try {
      map = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof map !== 'object' || map === null) throw new Error(`${index}: has no weight_map object`);
    const shards = [...new Set(Object.values(map))];
    for (const s of shards) {
      const f = path.join(where, s);
      if (!fs.existsSync(f)) throw new Error(`${index}: shard ${s} (holding ${Object.keys(map).find((k) => map[k] === s)}) is missing from ${where}`);
    }
    for (const s of shards) add(path.join(where, s));
    for (const [name, s] of Object.entries(map)) {
      const got = stored.get(canonical(name));
      if (!got || path.basename(got.file) !== s) throw new Error(`${index}: weight_map puts ${name} in ${s}, but ${got ? `it is in ${path.basename(got.file)}` : 'no shard holds it'}`);
    }
    return { stored, what: where };
  }
  const single = path.join(where, WEIGHTS_FILE);
  if (!fs.existsSync(single)) throw new Error(`${where}: neither ${INDEX_FILE} nor ${WEIGHTS_FILE} found`);
  add(single);
  return { stored, what: where };
}

/**
 * The pieces that make parameter `p` (its canonical name `c`), or null when no stored tensor provides it.
 * Throws when a provider exists with the wrong shape.
 */
function piecesFor(c: string, p: Parameter, stored: Map<string, Stored>, what: string): Piece[] | null {
  const whole = (s: Stored): Piece[] => [{ src: s, start: 0, end: numel(s.entry.shape) }];
  const mismatch = (s: Stored, expected: readonly number[]) =>
    new RangeError(`${what}: ${s.name} has shape ${shapeStr(s.entry.shape)}, the model expects ${shapeStr(expected)} (for ${p.name})`);
  const direct = stored.get(c);
  if (direct) {
    const f = direct.entry.shape;
    const ours = p.shape;
    const same = shapeStr(f) === shapeStr(ours);
    // The checkpoint keeps unit dims we drop: conv weights [C,1,W] (ours [C,W]) and A_log [1,1,H,1] (ours [H]).
    const conv = c.endsWith('conv1d.weight') && f.length === 3 && f[0] === ours[0] && f[1] === 1 && f[2] === ours[1];
    const aLog = c.endsWith('.A_log') && f.length === 4 && f[0] === 1 && f[1] === 1 && f[2] === ours[0] && f[3] === 1;
    if (!same && !conv && !aLog) throw new RangeError(`${what}: ${direct.name} has shape ${shapeStr(f)}, the model expects ${shapeStr(ours)}`);
    return whole(direct);
  }
  // q/k/v short convolutions from the stacked conv1d.weight [3C,1,W].
  const m = /^(.*\.self_attn\.)([qkv])_conv1d\.weight$/.exec(c);
  if (m) {
    const s = stored.get(`${m[1]}conv1d.weight`);
    if (!s) return null;
    const [C, W] = p.shape;
    if (shapeStr(s.entry.shape) !== shapeStr([3 * C, 1, W])) throw mismatch(s, [3 * C, 1, W]);
    const i = 'qkv'.indexOf(m[2]);
    return [{ src: s, start: i * C * W, end: (i + 1) * C * W }];
  }
  // One expert's w1 (gate) / w3 (up) / w2 (down) from the fused expert tensors [E,2I,d] / [E,d,I].
  const e = /^(.*\.mlp\.experts\.)(\d+)\.(w[123])\.weight$/.exec(c);
  if (e) {
    const idx = Number(e[2]);
    const n = numel(p.shape);
    const down = e[3] === 'w2';
    const s = stored.get(`${e[1]}${down ? 'down_proj' : 'gate_up_proj'}`);
    if (!s) return null;
    const inner = down ? p.shape : [2 * p.shape[0], p.shape[1]];
    const f = s.entry.shape;
    if (f.length !== 3 || f[0] <= idx || f[1] !== inner[0] || f[2] !== inner[1])
      throw new RangeError(`${what}: ${s.name} has shape ${shapeStr(f)}, the model expects [E > ${idx},${inner.join(',')}] (for ${p.name})`);
    const off = down ? idx * n : idx * 2 * n + (e[3] === 'w3' ? n : 0);
    return [{ src: s, start: off, end: off + n }];
  }
  // Fused expert tensors from per-expert w1 + w3 (gate_up_proj) or w2 (down_proj).
  const g = /^(.*\.mlp\.experts\.)(gate_up_proj|down_proj)$/.exec(c);
  if (g) {
    const [E, a, b] = p.shape;
    const parts = g[2] === 'down_proj' ? [['w2', [a, b]]] as const : [['w1', [a / 2, b]], ['w3', [a / 2, b]]] as const;
    if (!stored.has(`${g[1]}0.${parts[0][0]}.weight`)) return null;
    const pieces: Piece[] = [];
    for (let i = 0; i < E; i++)
      for (const [w, expected] of parts) {
        const s = stored.get(`${g[1]}${i}.${w}.weight`);
        if (!s) throw new Error(`${what}: ${g[1]}${i}.${w}.weight is missing (experts 0..${E - 1} make ${p.name})`);
        if (shapeStr(s.entry.shape) !== shapeStr(expected)) throw mismatch(s, expected);
        pieces.push(...whole(s));
      }
    return pieces;
  }
  return null;
}

/** The raw bytes of elements [start, end) of a stored tensor. */
function readPieceBytes(fd: number, piece: Piece): Uint8Array {
  const { entry, dataStart, name, file } = piece.src;
  const size = ELEMENT_BYTES[entry.dtype];
  if (!size) throw new TypeError(`${file}: ${name} has dtype ${entry.dtype}; weights must be F32, BF16, F16 or F64`);
  const bytes = (piece.end - piece.start) * size;
  const buf = new Uint8Array(bytes);
  let got = 0;
  while (got < bytes) {
    const r = fs.readSync(fd, buf, got, bytes - got, dataStart + entry.data_offsets[0] + piece.start * size + got);
    if (r === 0) throw new Error(`${file}: unexpected end of file reading ${name}`);
    got += r;
  }
  return buf;
}

/** Reads elements [start, end) of a stored tensor as f32. */
function readPiece(fd: number, piece: Piece): Float32Array {
  const { entry } = piece.src;
  const buf = readPieceBytes(fd, piece);
  const n = piece.end - piece.start;
  const data = entry.dtype === 'F64' ? new Float64Array(buf.buffer, 0, n) : entry.dtype === 'F32' ? new Float32Array(buf.buffer, 0, n) : new Uint16Array(buf.buffer, 0, n);
  return tensorDataToFloat32({ dtype: entry.dtype, shape: [n], data });
}

/**
 * The files that hold a model directory's weights, relative to it: model.safetensors, or the index and every
 * shard it lists. Null when the directory has neither (a config-only base).
 */
export function weightFiles(dir: string): string[] | null {
  const index = path.join(dir, INDEX_FILE);
  if (fs.existsSync(index)) {
    const map = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> }).weight_map;
    if (typeof map !== 'object' || map === null) throw new Error(`${index}: has no weight_map object`);
    return [INDEX_FILE, ...new Set(Object.values(map))];
  }
  return fs.existsSync(path.join(dir, WEIGHTS_FILE)) ? [WEIGHTS_FILE] : null;
}

export interface LoadOptions {
  /**
   * Frozen parameters (requiresGrad false) that every consuming op takes as bf16 (Parameter.bf16Ok: linear
   * weights, embedding, LM head, MoE router and experts) keep a BF16 checkpoint's storage on the CPU instead of
   * being widened to f32: half the memory, and the ops widen exactly as they compute, so the logits are those of
   * the widened load. Everything else (trainable parameters, norms, convolutions, A_log, dt_bias, weights on a
   * GPU, whose kernels take f32) is f32. Unfreezing a bf16 weight later widens it (Parameter.setRequiresGrad).
   */
  keepBf16?: boolean;
}

/**
 * Copies weights into the model's parameters from a model directory (single file or sharded) or one
 * .safetensors file. Every parameter must be provided and every stored tensor used.
 */
export function loadWeights(model: KimiLinearLM, where: string, opts: LoadOptions = {}): void {
  if (!fs.existsSync(where)) throw new Error(`loadWeights: ${where} does not exist`);
  const { stored, what } = listStored(where);
  const plan: [Parameter, Piece[]][] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  for (const p of model.parameters()) {
    const pieces = piecesFor(canonical(p.name), p, stored, what);
    if (!pieces) missing.push(p.name);
    else {
      plan.push([p, pieces]);
      for (const x of pieces) used.add(canonical(x.src.name));
    }
  }
  const unexpected = [...stored.values()].filter((s) => !used.has(canonical(s.name))).map((s) => `${s.name} ${shapeStr(s.entry.shape)}`);
  const list = (xs: string[]) => `${xs.slice(0, 8).join(', ')}${xs.length > 8 ? ` (+${xs.length - 8} more)` : ''}`;
  if (missing.length || unexpected.length)
    throw new Error(`${what}: weights do not match the model` + (missing.length ? `; missing: ${list(missing)}` : '') + (unexpected.length ? `; unexpected (not in this config): ${list(unexpected)}` : ''));
  const fds = new Map<string, number>();
  try {
    // Shard by shard (in file order), one parameter widened at a time.
    plan.sort((a, b) => a[1][0].src.file.localeCompare(b[1][0].src.file));
    const fdOf = (file: string) => {
      let fd = fds.get(file);
      if (fd === undefined) fds.set(file, (fd = fs.openSync(file, 'r')));
      return fd;
    };
    for (const [p, pieces] of plan) {
      const device = p.data.device as Device;
      const bf16 = !!opts.keepBf16 && p.bf16Ok && !p.requiresGrad && device === 'cpu' && pieces.every((x) => x.src.entry.dtype === 'BF16');
      if (bf16) {
        const bits = new Uint16Array(numel(p.shape));
        let at = 0;
        for (const piece of pieces) {
          const buf = readPieceBytes(fdOf(piece.src.file), piece);
          bits.set(new Uint16Array(buf.buffer, 0, piece.end - piece.start), at);
          at += piece.end - piece.start;
        }
        p.replaceData(Tensor.fromBf16Bits(bits, p.shape, { device }));
        continue;
      }
      const out = new Float32Array(numel(p.shape));
      let at = 0;
      for (const piece of pieces) {
        out.set(readPiece(fdOf(piece.src.file), piece), at);
        at += piece.end - piece.start;
      }
      const t = Tensor.from(out, p.shape, { device });
      if (p.data.dtype === 'f32') {
        p.assign(t);
        t.dispose();
      } else p.replaceData(t);  // a bf16 weight loaded again from an f32 source
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
}

export interface LoadModelOptions extends ModelOptions {
  /**
   * Load the model frozen (every parameter requiresGrad false), keeping a bf16 checkpoint's weights bf16 where
   * the ops allow (LoadOptions.keepBf16): for a base that a sidecar, LoRA or evaluation only reads.
   */
  frozen?: boolean;
}

/** Builds the model from `dir`/config.json and loads its weights (single file or sharded). */
export function loadModel(dir: string, opts: LoadModelOptions = {}): KimiLinearLM {
  const cfgFile = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(cfgFile)) throw new Error(`loadModel: ${dir} has no ${CONFIG_FILE}`);
  const { frozen = false, ...modelOpts } = opts;
  // Frozen: zero placeholders (bf16 where the weight may stay bf16), each replaced by its checkpoint tensor.
  const model = new KimiLinearLM(loadModelConfig(cfgFile), { ...modelOpts, placeholders: frozen || modelOpts.placeholders });
  try {
    if (frozen) model.setRequiresGrad(false);
    loadWeights(model, dir, { keepBf16: frozen });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export interface SaveOptions {
  /** Storage dtype of the weights (default float32). As in the published checkpoint, A_log and dt_bias stay F32. */
  dtype?: 'float32' | 'bfloat16';
  /** Split into shards of at most this many bytes (a tensor is never split), with an index; default 4 GiB. */
  maxShardBytes?: number;
}

/** The published tensors a parameter is stored as: name, stored shape and element offset into the parameter. */
function publishedOf(model: KimiLinearLM, p: Parameter): { name: string; shape: number[]; offset: number }[] {
  const m = /^model\.layers\.(\d+)\.mlp\.(.*)$/.exec(p.name);
  if (m && model.config.mlp_layer_types[Number(m[1])] === 'sparse') {
    const pre = `model.layers.${m[1]}.block_sparse_moe`;
    // Stacked experts [E,2I,d] / [E,d,I] are published one expert at a time: w1 (gate), w3 (up), w2 (down).
    if (m[2] === 'experts.gate_up_proj' || m[2] === 'experts.down_proj') {
      const [E, a, b] = p.shape;
      const out = [];
      for (let e = 0; e < E; e++) {
        if (m[2] === 'experts.down_proj') out.push({ name: `${pre}.experts.${e}.w2.weight`, shape: [a, b], offset: e * a * b });
        else {
          out.push({ name: `${pre}.experts.${e}.w1.weight`, shape: [a / 2, b], offset: e * a * b });
          out.push({ name: `${pre}.experts.${e}.w3.weight`, shape: [a / 2, b], offset: e * a * b + (a / 2) * b });
        }
      }
      return out;
    }
    return [{ name: `${pre}.${m[2]}`, shape: [...p.shape], offset: 0 }];
  }
  if (p.name.endsWith('conv1d.weight')) return [{ name: p.name, shape: [p.shape[0], 1, p.shape[1]], offset: 0 }];
  if (p.name.endsWith('.A_log')) return [{ name: p.name, shape: [1, 1, p.shape[0], 1], offset: 0 }];
  return [{ name: p.name, shape: [...p.shape], offset: 0 }];
}

/**
 * Writes `dir`/config.json and the weights in the published layout (model.safetensors, or shards plus
 * model.safetensors.index.json when larger than maxShardBytes), removing weight files of the other layout.
 */
export function saveModel(model: KimiLinearLM, dir: string, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw new TypeError(`saveModel: dtype must be 'float32' or 'bfloat16', got ${JSON.stringify(dtype)}`);
  const maxShard = opts.maxShardBytes ?? 4 * 1024 ** 3;
  if (!(maxShard > 0)) throw new RangeError(`saveModel: maxShardBytes must be positive, got ${maxShard}`);
  fs.mkdirSync(dir, { recursive: true });
  const shards: Record<string, TensorEntry>[] = [{}];
  let shardBytes = 0;
  let total = 0;
  for (const p of model.parameters()) {
    const values = p.data.toFloat32Array();
    const keepF32 = dtype === 'float32' || p.name.endsWith('.A_log') || p.name.endsWith('.dt_bias');
    for (const { name, shape, offset } of publishedOf(model, p)) {
      const n = numel(shape);
      const bytes = n * (keepF32 ? 4 : 2);
      if (shardBytes > 0 && shardBytes + bytes > maxShard) {
        shards.push({});
        shardBytes = 0;
      }
      shards[shards.length - 1][name] = { dtype: keepF32 ? 'F32' : 'BF16', shape, data: values.subarray(offset, offset + n) };
      shardBytes += bytes;
      total += bytes;
    }
  }
  const meta = { format: 'pt', producer: 'reclin' };
  const stale = fs.readdirSync(dir).filter((f) => f === WEIGHTS_FILE || f === INDEX_FILE || /^model-\d+-of-\d+\.safetensors$/.test(f));
  const written: string[] = [];
  if (shards.length === 1) {
    writeSafetensors(path.join(dir, WEIGHTS_FILE), shards[0], meta);
    written.push(WEIGHTS_FILE);
  } else {
    const n = shards.length;
    const pad = (i: number) => String(i).padStart(5, '0');
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const file = `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
      writeSafetensors(path.join(dir, file), s, meta);
      written.push(file);
      for (const name of Object.keys(s)) weightMap[name] = file;
    });
    writeFileAtomic(path.join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
    written.push(INDEX_FILE);
  }
  for (const f of stale) if (!written.includes(f)) fs.rmSync(path.join(dir, f), { force: true });
  writeJsonAtomic(path.join(dir, CONFIG_FILE), { ...model.config, dtype });
}
