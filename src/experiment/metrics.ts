// metrics/metrics.jsonl and the other append-only logs (text, generation samples): one JSON object per line,
// appended with a single write. NaN/±Infinity are stored as the strings "NaN"/"Infinity"/"-Infinity" (JSON has
// no such numbers) and read back as numbers. A crash can only leave a torn LAST line, which readers skip.
//
// Resume: records carry the run `segment` (0, then +1 per resume). When a run resumes from the checkpoint at
// step S, everything logged after S belongs to a future that no longer happens: supersedeAfter(S) moves those
// records (and TensorBoard events) into superseded/ at the run root and rewrites the logs atomically, so every
// reader — ours, pandas, TensorBoard — sees one clean history with no duplicate steps.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../format/atomic';
import { decodeEvent, encodeEvent } from '../tensorboard/event';
import { encodeRecord, scanRecords } from '../tensorboard/record';
import { eventFiles } from '../tensorboard';

export const METRICS_FILE = path.join('metrics', 'metrics.jsonl');
export const TEXT_FILE = path.join('metrics', 'text.jsonl');
export const SAMPLES_FILE = path.join('notes', 'generation_samples.jsonl');
export const SUPERSEDED_DIR = 'superseded';

export interface MetricRecord {
  step: number;
  time: string;
  segment: number;
  metrics: Record<string, number>;
}

export function encodeValue(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function decodeValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return NaN;
}

/** Complete lines of a JSONL file, parsed; a torn last line (no newline) is skipped, a bad middle line throws. */
export function readJsonl<T = Record<string, unknown>>(file: string): { rows: T[]; tornTail: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], tornTail: false };
    throw e;
  }
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const rows: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as T);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not a JSON line (${(e as Error).message})`);
    }
  });
  return { rows, tornTail: tail.trim() !== '' };
}

/** The metric records of a run directory, with numbers restored. */
/**
 * Checks every complete line of metrics.jsonl before a resume trains anything: one JSON object per line with an
 * integer step >= 0 and an object of metrics. Throws naming the file, the line and what is wrong.
 */
export function validateMetricsFile(runDir: string): void {
  const file = path.join(runDir, METRICS_FILE);
  const { rows } = readJsonl<unknown>(file);
  rows.forEach((r, i) => {
    const rec = r as { step?: unknown; metrics?: unknown } | null;
    const where = `${file}: record ${i + 1}`;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new Error(`${where}: got ${JSON.stringify(r)}, allowed: an object {step, time, segment, metrics}`);
    if (typeof rec.step !== 'number' || !Number.isSafeInteger(rec.step) || rec.step < 0) throw new Error(`${where}: step is ${JSON.stringify(rec.step)}, allowed: an integer >= 0`);
    if (rec.metrics === null || typeof rec.metrics !== 'object' || Array.isArray(rec.metrics)) throw new Error(`${where}: metrics is ${JSON.stringify(rec.metrics)}, allowed: an object of name -> number`);
    for (const [k, v] of Object.entries(rec.metrics as Record<string, unknown>)) {
      if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v as string)) throw new Error(`${where}: metrics["${k}"] is ${JSON.stringify(v)}, allowed: a number (or "NaN", "Infinity", "-Infinity")`);
    }
  });
}

export function readMetrics(runDir: string): MetricRecord[] {
  return readJsonl<{ step: number; time: string; segment?: number; metrics: Record<string, unknown> }>(path.join(runDir, METRICS_FILE)).rows.map((r) => ({
    step: r.step,
    time: r.time,
    segment: r.segment ?? 0,
    metrics: Object.fromEntries(Object.entries(r.metrics ?? {}).map(([k, v]) => [k, decodeValue(v)])),
  }));
}

/** For each metric: its last value and step, and its minimum and maximum with their steps. */
export function metricSummary(records: MetricRecord[]): Record<string, { last: number; lastStep: number; min: number; minStep: number; max: number; maxStep: number; count: number }> {
  const out: ReturnType<typeof metricSummary> = {};
  for (const r of records) {
    for (const [k, v] of Object.entries(r.metrics)) {
      const s = (out[k] ??= { last: v, lastStep: r.step, min: Infinity, minStep: r.step, max: -Infinity, maxStep: r.step, count: 0 });
      s.last = v;
      s.lastStep = r.step;
      s.count++;
      if (v < s.min) [s.min, s.minStep] = [v, r.step];
      if (v > s.max) [s.max, s.maxStep] = [v, r.step];
    }
  }
  return out;
}

/**
 * A crash mid-append can leave a last line without its newline. Before appending again, that torn record is
 * cut off (kept in `tornFile` when given), so the next record never fuses with it. Returns whether it cut.
 */
export function repairTornTail(file: string, tornFile?: string): boolean {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    return false;
  }
  if (st.size === 0) return false;
  const text = fs.readFileSync(file, 'utf8');
  if (text.endsWith('\n')) return false;
  const keep = text.slice(0, text.lastIndexOf('\n') + 1);
  if (tornFile) appendLines(tornFile, [`${JSON.stringify({ file: path.basename(file), torn: text.slice(keep.length) })}\n`]);
  writeFileAtomic(file, keep);
  return true;
}

function appendLines(file: string, lines: string[]): void {
  if (lines.length === 0) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, lines.join(''));
}

/**
 * Keeps the records of `file` with step <= `step` (rewritten atomically, torn tail dropped) and appends the
 * others to `supersededFile`, tagged with the segment that superseded them. Returns how many moved.
 */
export function supersedeJsonlAfter(file: string, step: number, supersededFile: string, segment: number): number {
  if (!fs.existsSync(file)) return 0;
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const keep: string[] = [];
  const moved: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    let s: unknown;
    try {
      s = (JSON.parse(line) as { step?: unknown }).step;
    } catch {
      s = undefined;
    }
    if (typeof s === 'number' && s > step) moved.push(`${JSON.stringify({ superseded_by_segment: segment, record: JSON.parse(line) })}\n`);
    else keep.push(`${line}\n`);
  }
  if (moved.length === 0 && tail === '') return 0;
  appendLines(supersededFile, moved);
  writeFileAtomic(file, keep.join(''));
  return moved.length;
}

/**
 * The name a superseded event file is kept under. TensorBoard lists every folder below --logdir holding a file
 * whose name contains "tfevents" as a run, so the word is replaced; renaming the file back makes it viewable.
 */
export function supersededEventsName(eventFile: string): string {
  return `${path.basename(eventFile).replace(/tfevents/g, 'superseded-events')}`;
}

const SUPERSEDED_EVENTS_README = [
  'TensorBoard event files superseded by a resume: the events they held after the restart step belong to a',
  'history that no longer happened. They are named *.superseded-events.* so that `tensorboard --logdir` does not',
  'list them as another run. To view one, copy it to a folder of its own and rename "superseded-events" back to',
  '"tfevents".',
  '',
].join('\n');

/**
 * TensorBoard's side of a resume: event files holding events after `step` are kept in `destDir` (under
 * supersededEventsName) and replaced (atomically, same name) by a copy without those events. Returns how many
 * events were dropped.
 */
export function supersedeEventsAfter(logDir: string, step: number, destDir: string): number {
  if (!fs.existsSync(logDir)) return 0;
  let dropped = 0;
  for (const file of eventFiles(logDir)) {
    const { records } = scanRecords(fs.readFileSync(file), file);
    const events = records.map((r) => decodeEvent(r));
    const keep = events.filter((ev) => ev.fileVersion !== undefined || ev.step <= step);
    const removed = events.length - keep.length;
    if (removed === 0) continue;
    fs.mkdirSync(destDir, { recursive: true });
    fs.copyFileSync(file, path.join(destDir, supersededEventsName(file)));
    fs.writeFileSync(path.join(destDir, 'README.txt'), SUPERSEDED_EVENTS_README);
    writeFileAtomic(file, Buffer.concat(keep.map((ev) => encodeRecord(encodeEvent(ev)))));
    dropped += removed;
  }
  return dropped;
}
