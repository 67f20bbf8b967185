import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  TensorBoardWriter,
  readEvents,
  readScalars,
  crc32c,
  maskedCrc32c,
  CorruptRecordError,
  defaultBucketLimits,
  type TBEvent,
} from '../src';
import { encodeEvent } from '../src/tensorboard/event';
import { encodeRecord } from '../src/tensorboard/record';
import { randn, requirePython, runPython } from './helpers';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-tb-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Byte offset of every record in a file (walks the framing without checking CRCs). */
function recordOffsets(buf: Buffer): number[] {
  const offs: number[] = [];
  for (let off = 0; off < buf.length; off += Number(buf.readBigUInt64LE(off)) + 16) offs.push(off);
  return offs;
}

test('CRC-32C matches published test vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4, also in TensorBoard's masked_crc.rs
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e); // RFC 3720 B.4
  assert.equal(maskedCrc32c(Buffer.from('\x1a\x11CRC test, one two', 'latin1')), 0x5794d08a); // masked_crc.rs
});

/** CRC-32C bit by bit (reflected polynomial 0x82F63B78): independent of the table-driven implementation under test. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
const bitwiseMasked = (bytes: Uint8Array) => {
  const c = bitwiseCrc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

test('an event record is the TFRecord framing of the protobuf bytes derived field by field (docs/design/formats.md §5)', () => {
  const data = encodeEvent({ wallTime: 1.7e9, step: 1, scalars: [{ tag: 'loss', value: 0.5 }] });
  // Event.wall_time (field 1, fixed64), Event.step (field 2, varint), Event.summary (field 5, length-delimited)
  // holding Summary.value (field 1) = Value{tag (field 1) "loss", simple_value (field 2, fixed32) 0.5}.
  const f64 = Buffer.alloc(8);
  f64.writeDoubleLE(1.7e9);
  const f32 = Buffer.alloc(4);
  f32.writeFloatLE(0.5);
  const value = Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from('loss'), Buffer.from([0x15]), f32]);
  const summary = Buffer.concat([Buffer.from([0x0a, value.length]), value]);
  const expected = Buffer.concat([Buffer.from([0x09]), f64, Buffer.from([0x10, 1, 0x2a, summary.length]), summary]);
  assert.equal(Buffer.from(data).toString('hex'), expected.toString('hex'));
  assert.equal(expected.toString('hex'), '0900000040fc54d94110012a0d0a0b0a046c6f7373150000003f'); // the bytes written out in formats.md
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(expected.length));
  const crc = (b: Uint8Array) => {
    const out = Buffer.alloc(4);
    out.writeUInt32LE(bitwiseMasked(b));
    return out;
  };
  const record = Buffer.concat([len, crc(len), expected, crc(expected)]);
  assert.equal(encodeRecord(data).toString('hex'), record.toString('hex'));
  assert.equal(bitwiseCrc32c(new Uint8Array(32)), 0x8a9136aa); // the bitwise reference itself, on RFC 3720's vector
});

test('file name, brain.Event:2 header and round trip of scalars, text and histograms', () => {
  const dir = tmpDir();
  const w = new TensorBoardWriter(dir, { filenameSuffix: '.v2' });
  const base = path.basename(w.path);
  assert.match(base, /^events\.out\.tfevents\.\d{10}\.[^.]/);
  assert.ok(base.startsWith(`events.out.tfevents.`) && base.includes(`.${os.hostname()}.${process.pid}.`) && base.endsWith('.v2'), base);
  assert.equal(path.dirname(w.path), dir);
  w.addScalar('train/loss', 2.5, 0, 1700000000.25);
  w.addScalar('train/loss', 0.1, 1);
  w.addScalar('train/nan', NaN, 2);
  w.addScalars({ 'eval/a': 1 / 3, 'eval/b': -7 }, 3);
  w.addText('notes', 'Line one\n**two** — ünïcödé ✓', 4);
  w.addText('empty', '', 4);
  const values = randn(1000, 7, 0.05);
  w.addHistogram('w/q', values, 5);
  w.close();
  w.close(); // idempotent
  assert.throws(() => w.addScalar('x', 1, 1), /closed/);

  const evs = readEvents(w.path);
  assert.deepEqual(evs.truncated, []);
  assert.equal(evs[0].fileVersion, 'brain.Event:2');
  assert.equal(evs[0].step, 0);
  assert.ok(Math.abs(evs[0].wallTime - Date.now() / 1000) < 600);
  const body = evs.slice(1);
  assert.deepEqual(body.map((e) => e.step), [0, 1, 2, 3, 4, 4, 5]);
  assert.equal(body[0].wallTime, 1700000000.25);
  assert.deepEqual(body[0].scalars, [{ tag: 'train/loss', value: 2.5 }]);
  assert.deepEqual(body[1].scalars, [{ tag: 'train/loss', value: Math.fround(0.1) }]);
  assert.ok(Number.isNaN(body[2].scalars![0].value));
  assert.deepEqual(body[3].scalars, [
    { tag: 'eval/a', value: Math.fround(1 / 3) },
    { tag: 'eval/b', value: -7 },
  ]);
  assert.deepEqual(body[4].texts, [{ tag: 'notes', text: 'Line one\n**two** — ünïcödé ✓' }]);
  assert.deepEqual(body[5].texts, [{ tag: 'empty', text: '' }]);
  const h = body[6].histograms![0];
  assert.equal(h.tag, 'w/q');
  let min = Infinity, max = -Infinity, sum = 0, sq = 0;
  for (const x of values) {
    min = Math.min(min, x);
    max = Math.max(max, x);
    sum += x;
    sq += x * x;
  }
  assert.deepEqual([h.min, h.max, h.num, h.sum, h.sumSquares], [min, max, 1000, sum, sq]);

  const scalars = readScalars(dir);
  assert.deepEqual(Object.keys(scalars).sort(), ['eval/a', 'eval/b', 'train/loss', 'train/nan']);
  assert.deepEqual(scalars['train/loss'].map((s) => [s.step, s.value]), [[0, 2.5], [1, Math.fround(0.1)]]);
});

test('histogram buckets: TensorFlow default limits, counts and edges hold every value', () => {
  const limits = defaultBucketLimits();
  const half = (limits.length - 1) / 2;
  assert.equal(limits[half], 0);
  assert.equal(limits[half + 1], 1e-12);
  assert.equal(limits[limits.length - 1], Number.MAX_VALUE);
  assert.equal(limits[0], -Number.MAX_VALUE);
  for (let i = 1; i < limits.length; i++) assert.ok(limits[i] > limits[i - 1]);
  for (let i = 0; i < half; i++) assert.equal(limits[i], -limits[limits.length - 1 - i]);
  assert.ok(limits[limits.length - 2] >= 1e20 / 1.1 && limits[limits.length - 2] < 1e20);

  const dir = tmpDir();
  const w = new TensorBoardWriter(dir);
  // Awkward inputs: zeros, a constant, huge and tiny magnitudes, a single value, exact bucket limits.
  const cases: number[][] = [
    Array.from(randn(777, 3)),
    [0, 0, 0],
    [42],
    [-1e30, 1e-300, 0, 5e-13, 1e30],
    [limits[half + 10], limits[half + 11], -limits[half + 10]],
  ];
  cases.forEach((v, i) => w.addHistogram(`h${i}`, v, i));
  w.close();
  const hs = readEvents(w.path).flatMap((e) => e.histograms ?? []);
  assert.equal(hs.length, cases.length);
  hs.forEach((h, i) => {
    const v = cases[i];
    assert.equal(h.num, v.length);
    assert.equal(h.bucket.reduce((a, b) => a + b, 0), v.length, `counts of h${i}`);
    assert.equal(h.bucket.length, h.bucketLimit.length);
    for (let b = 1; b < h.bucketLimit.length; b++) assert.ok(h.bucketLimit[b] > h.bucketLimit[b - 1]);
    assert.ok(h.bucketLimit[h.bucketLimit.length - 1] > h.max, 'last bucket ends above max');
    assert.ok(h.bucket[0] > 0 && h.bucket[h.bucket.length - 1] > 0, 'no leading/trailing empty buckets');
    // Recount every value into the emitted buckets: bucket b holds [limit[b-1], limit[b]).
    const re = new Array<number>(h.bucket.length).fill(0);
    for (const x of v) {
      const b = h.bucketLimit.findIndex((l) => x < l);
      assert.ok(b >= 0);
      re[b]++;
    }
    assert.deepEqual(re, h.bucket, `bucket counts of h${i}`);
  });
});

test('bad input is refused with a message naming the argument and value', () => {
  const dir = tmpDir();
  assert.throws(() => new TensorBoardWriter(''), /logDir must be a non-empty string/);
  assert.throws(() => new TensorBoardWriter(dir, { flushIntervalMs: -1 }), /flushIntervalMs must be a finite number >= 0, got -1/);
  assert.throws(() => new TensorBoardWriter(dir, { filenameSuffix: 'a/b' }), /filenameSuffix must be a string without path separators/);
  const w = new TensorBoardWriter(dir);
  assert.throws(() => w.addScalar('', 1, 1), /addScalar: tag must be a non-empty string, got ""/);
  assert.throws(() => w.addScalar('x', 1, 1.5), /addScalar: step must be an integer, got 1.5/);
  assert.throws(() => w.addScalar('x', '1' as unknown as number, 1), /addScalar\('x'\): value must be a number, got string 1/);
  assert.throws(() => w.addScalar('x', 1, 1, NaN), /wallTime must be finite/);
  assert.throws(() => w.addScalars({ a: 1, b: null as unknown as number }, 1), /addScalars\('b'\): value must be a number/);
  assert.throws(() => w.addText('t', 5 as unknown as string, 1), /addText\('t'\): text must be a string, got number/);
  assert.throws(() => w.addHistogram('h', [], 1), /addHistogram\('h'\): values is empty/);
  assert.throws(() => w.addHistogram('h', [1, Infinity], 1), /addHistogram\('h'\): values\[1\] is Infinity; histograms take finite numbers only/);
  assert.throws(() => w.addHistogram('h', [NaN], 1), /values\[0\] is NaN/);
  w.close();
  // Nothing half-valid was written: only the header.
  assert.equal(readEvents(w.path).length, 1);
  assert.throws(() => readEvents(path.join(dir, 'missing')), /readEvents: cannot read ".*missing"/);
});

test('buffered until flush; several writers in one directory get distinct files read in order', async () => {
  const dir = tmpDir();
  const w1 = new TensorBoardWriter(dir, { flushIntervalMs: 60_000 });
  w1.addScalar('a', 1, 1);
  assert.equal(readEvents(w1.path).length, 1, 'only the header before a flush');
  w1.flush();
  assert.equal(readEvents(w1.path).length, 2);
  w1.close();
  const w2 = new TensorBoardWriter(dir, { flushIntervalMs: 0 });
  assert.notEqual(w2.path, w1.path);
  w2.addScalar('a', 2, 2);
  assert.equal(readEvents(w2.path).length, 2, 'flushIntervalMs 0 writes through');
  w2.close();
  assert.deepEqual(readScalars(dir).a.map((s) => s.value), [1, 2]);

  // The periodic flush (an unref'd timer) writes without an explicit call.
  const w3 = new TensorBoardWriter(dir, { flushIntervalMs: 5 });
  w3.addScalar('b', 3, 3);
  const deadline = Date.now() + 10_000;
  while (readEvents(w3.path).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(readEvents(w3.path).length, 2);
  w3.close();
});

test('buffered events are flushed at process exit', () => {
  const dir = tmpDir();
  const mod = path.resolve(__dirname, '../src/tensorboard');
  const script = `const { TensorBoardWriter } = require(${JSON.stringify(mod)});
    const w = new TensorBoardWriter(${JSON.stringify(dir)}, { flushIntervalMs: 60000 });
    for (let i = 0; i < 5; i++) w.addScalar('loss', i, i);
    process.exitCode = 0;`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readScalars(dir).loss.map((s) => s.step), [0, 1, 2, 3, 4]);
});

test('event files of a directory are read in creation order (writer counter 10 after 9)', () => {
  const dir = tmpDir();
  for (const [uid, step] of [[10, 2], [9, 1], [100, 3]]) {
    const w = new TensorBoardWriter(dir);
    w.addScalar('s', step, step);
    w.close();
    fs.renameSync(w.path, path.join(dir, `events.out.tfevents.1700000000.host.123.${uid}`));
  }
  assert.deepEqual(readScalars(dir).s.map((x) => x.step), [1, 2, 3]);
});

test('a writer killed (SIGKILL) while writing leaves every earlier record readable', async () => {
  const dir = tmpDir();
  const mod = path.resolve(__dirname, '../src/tensorboard');
  const script = `const { TensorBoardWriter } = require(${JSON.stringify(mod)});
    const w = new TensorBoardWriter(${JSON.stringify(dir)}, { flushIntervalMs: 0 });
    const vals = Float32Array.from({ length: 20000 }, (_, i) => Math.sin(i));
    for (let step = 0; ; step++) {
      w.addScalar('s', step, step);
      w.addHistogram('h', vals, step);
      if (step === 20) process.stdout.write('ready\\n');
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  const evs = readEvents(dir); // no CorruptRecordError: at worst a truncated tail
  const steps = readScalars(dir).s.map((x) => x.step);
  assert.ok(steps.length >= 21, `only ${steps.length} scalars survived`);
  assert.deepEqual(steps, steps.map((_, i) => i));
  assert.ok(evs.filter((e) => e.histograms).length >= 21);
  assert.ok(evs.truncated.length <= 1);
});

test('corruption is detected and named by file and offset', () => {
  const dir = tmpDir();
  const w = new TensorBoardWriter(dir);
  for (let i = 0; i < 4; i++) w.addScalar('x', i, i);
  w.close();
  const good = fs.readFileSync(w.path);
  const offs = recordOffsets(good);
  assert.equal(offs.length, 5);
  const bad = (mutate: (b: Buffer) => void, re: RegExp) => {
    const b = Buffer.from(good);
    mutate(b);
    fs.writeFileSync(w.path, b);
    assert.throws(() => readEvents(w.path), (e: unknown) => e instanceof CorruptRecordError && re.test(e.message) && e.file === w.path);
  };
  // A flipped bit in the data of record 2, in its length, in its stored data CRC.
  bad((b) => (b[offs[2] + 14] ^= 0x01), new RegExp(`corrupt TFRecord at byte offset ${offs[2]}: data CRC mismatch`));
  bad((b) => (b[offs[3]] ^= 0x04), new RegExp(`corrupt TFRecord at byte offset ${offs[3]}: length CRC mismatch`));
  bad((b) => (b[offs[4] - 1] ^= 0x80), new RegExp(`at byte offset ${offs[3]}: data CRC mismatch`));
  // Corruption in the last record is still corruption, not a truncated tail.
  bad((b) => (b[b.length - 2] ^= 0x10), new RegExp(`at byte offset ${offs[4]}: data CRC mismatch`));
  assert.ok(new RegExp(path.basename(w.path)).test(new CorruptRecordError(w.path, 3, 'x').message));
});

test('a truncated last record (crash mid-append) is skipped and flagged; earlier records survive', () => {
  const dir = tmpDir();
  const w = new TensorBoardWriter(dir);
  for (let i = 0; i < 3; i++) w.addScalar('x', i, i);
  w.addHistogram('h', [1, 2, 3], 3);
  w.close();
  const good = fs.readFileSync(w.path);
  const offs = recordOffsets(good);
  const lastOff = offs[offs.length - 1];
  for (let cut = lastOff + 1; cut < good.length; cut++) {
    fs.writeFileSync(w.path, good.subarray(0, cut));
    const evs = readEvents(w.path);
    assert.deepEqual(evs.map((e) => e.step), [0, 0, 1, 2], `cut at ${cut}`);
    assert.deepEqual(evs.truncated, [{ file: w.path, offset: lastOff }]);
  }
  fs.writeFileSync(w.path, good.subarray(0, lastOff));
  assert.deepEqual(readEvents(w.path).truncated, []);
});

test('TensorBoard itself reads back every scalar, text and histogram (Python interop)', (t) => {
  const py = requirePython(['tensorboard']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = tmpDir();
  const w = new TensorBoardWriter(dir);
  const expected: TBEvent[] = [];
  for (let step = 0; step < 20; step++) {
    const loss = 3 / (step + 1);
    w.addScalar('train/loss', loss, step, 1700000000 + step);
    w.addScalars({ 'train/lr': 1e-3 * step, 'eval/acc': step / 20 }, step);
    if (step % 5 === 0) {
      w.addText('samples/generated', `step ${step}: héllo | *md* ✓\nsecond line`, step);
      w.addHistogram('weights/w0', randn(500, step, 0.02 * (step + 1)), step);
    }
  }
  w.close();
  const w2 = new TensorBoardWriter(dir); // a second file in the same run directory
  w2.addScalar('train/loss', 0.01, 20);
  w2.close();
  for (const ev of readEvents(dir)) expected.push(ev);

  const script = `
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.util import tensor_util
guid = {k: 0 for k in [ea.SCALARS, ea.HISTOGRAMS, ea.TENSORS, ea.COMPRESSED_HISTOGRAMS, ea.IMAGES, ea.AUDIO]}
acc = ea.EventAccumulator(sys.argv[1], size_guidance=guid)
acc.Reload()
tags = acc.Tags()
out = {'scalars': {}, 'histograms': {}, 'texts': {}}
for tag in tags['scalars']:
    out['scalars'][tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
for tag in tags['histograms']:
    out['histograms'][tag] = [[e.step, {'min': e.histogram_value.min, 'max': e.histogram_value.max,
        'num': e.histogram_value.num, 'sum': e.histogram_value.sum, 'sumSquares': e.histogram_value.sum_squares,
        'bucketLimit': list(e.histogram_value.bucket_limit), 'bucket': list(e.histogram_value.bucket)}]
        for e in acc.Histograms(tag)]
for tag in tags['tensors']:
    out['texts'][tag] = [[e.step, [s.decode('utf-8') for s in tensor_util.make_ndarray(e.tensor_proto).ravel()]]
        for e in acc.Tensors(tag)]
pacc = pea.EventAccumulator(sys.argv[1], size_guidance={'tensors': 0})
pacc.Reload()
out['plugins'] = {p: sorted(pacc.PluginTagToContent(p).keys()) for p in sorted(pacc.ActivePlugins())}
print(json.dumps(out))
`;
  const got = JSON.parse(runPython(py.python, script, [dir]));

  // A crash's truncated tail: TensorBoard (like our reader) keeps every complete record before it.
  const cut = tmpDir();
  const bytes = fs.readFileSync(w.path);
  fs.writeFileSync(path.join(cut, path.basename(w.path)), bytes.subarray(0, bytes.length - 7));
  const cutGot = JSON.parse(runPython(py.python, script, [cut]));
  const cutOurs = readEvents(cut);
  assert.equal(cutOurs.truncated.length, 1);
  assert.deepEqual(cutGot.scalars['train/loss'].map((x: number[]) => x[0]), readScalars(cut)['train/loss'].map((x) => x.step));
  assert.equal(cutGot.scalars['eval/acc'].length, 19, 'the last event (step 19 eval/acc, train/lr) is the cut one');

  const want = { scalars: {} as Record<string, [number, number, number][]>, histograms: {} as Record<string, unknown[]>, texts: {} as Record<string, unknown[]> };
  for (const ev of expected) {
    for (const s of ev.scalars ?? []) (want.scalars[s.tag] ??= []).push([ev.step, s.value, ev.wallTime]);
    for (const { tag, ...h } of ev.histograms ?? []) (want.histograms[tag] ??= []).push([ev.step, h]);
    for (const x of ev.texts ?? []) (want.texts[x.tag] ??= []).push([ev.step, [x.text]]);
  }
  assert.equal(want.scalars['train/loss'].length, 21);
  assert.equal(want.histograms['weights/w0'].length, 4);
  assert.equal(want.texts['samples/generated'].length, 4);
  // Scalars: exact float32 values, steps and wall times; histograms: every field exact; texts exact.
  assert.deepEqual(got.scalars, want.scalars);
  assert.deepEqual(got.histograms, want.histograms);
  assert.deepEqual(got.texts, want.texts);
  assert.equal(want.scalars['train/loss'][3][1], Math.fround(3 / 4));
  assert.equal(want.scalars['train/loss'][3][2], 1700000003);
  // TensorBoard's UI path files them under the scalars, text and histograms plugins.
  assert.deepEqual(got.plugins, {
    histograms: ['weights/w0'],
    scalars: ['eval/acc', 'train/loss', 'train/lr'],
    text: ['samples/generated'],
  });
});
