// What a live run logs: metrics (metrics/metrics.jsonl, fsynced with each heartbeat and before each checkpoint),
// text and generation samples (append-only JSON lines), notes and issues (notes/*.txt and the metadata), each
// mirrored into TensorBoard event files under logs/. Also notes added to any run from another process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../format/atomic';
import { TensorBoardWriter, readScalars } from '../tensorboard';
import { acquireLock, releaseLock, LockError } from './lock';
import { isStaleElsewhere } from './heartbeat';
import { encodeValue, readMetrics, METRICS_FILE, SAMPLES_FILE, TEXT_FILE } from './metrics';
import { appendNoteText, appendToInbox, mergeInbox, readInbox, INBOX_FILE, type NoteEntry, type NoteKind } from './notes';
import { nowIso, readMetaOf, type RunMetadata } from './run-metadata';
import { METADATA_FILE } from './status';

export class RunLog {
  private metricsFd: number;
  private tb: TensorBoardWriter | null;
  /** Bytes of notes/inbox.jsonl already merged into the metadata. */
  private inboxSize = 0;

  constructor(
    private readonly dir: string,
    private readonly segment: number,
    private readonly tensorboard: boolean,
    private readonly flushIntervalMs: number | undefined,
  ) {
    this.metricsFd = this.openMetrics();
    this.tb = this.openEvents();
  }

  private openMetrics(): number {
    return fs.openSync(path.join(this.dir, METRICS_FILE), 'a');
  }

  private openEvents(): TensorBoardWriter | null {
    return this.tensorboard ? new TensorBoardWriter(path.join(this.dir, 'logs'), { flushIntervalMs: this.flushIntervalMs }) : null;
  }

  /** One line in metrics/metrics.jsonl and one scalar per metric in TensorBoard. */
  metrics(metrics: Record<string, number>, step: number): void {
    if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) throw new TypeError(`logMetrics: metrics must be an object of name -> number, got ${JSON.stringify(metrics)}`);
    const encoded: Record<string, number | string> = {};
    for (const [k, v] of Object.entries(metrics)) {
      if (k === '') throw new TypeError('logMetrics: metric names must be non-empty');
      if (typeof v !== 'number') throw new TypeError(`logMetrics: metrics["${k}"] must be a number, got ${typeof v} ${JSON.stringify(v)}`);
      encoded[k] = encodeValue(v);
    }
    const rec = { step, time: nowIso(), segment: this.segment, metrics: encoded };
    fs.writeSync(this.metricsFd, `${JSON.stringify(rec)}\n`);
    this.tb?.addScalars(metrics, step);
  }

  /** Text for TensorBoard's Text tab, also kept in metrics/text.jsonl. */
  text(tag: string, text: string, step: number): void {
    fs.appendFileSync(path.join(this.dir, TEXT_FILE), `${JSON.stringify({ step, time: nowIso(), segment: this.segment, tag, text })}\n`);
    this.tb?.addText(tag, text, step);
  }

  histogram(tag: string, values: ArrayLike<number>, step: number): void {
    this.tb?.addHistogram(tag, values, step);
  }

  /** notes/generation_samples.jsonl and a TensorBoard text entry. */
  generationSample(prompt: string, generated: string, step: number, metrics: Record<string, number>): void {
    const m = Object.fromEntries(Object.entries(metrics ?? {}).map(([k, v]) => [k, typeof v === 'number' ? encodeValue(v) : v]));
    fs.appendFileSync(path.join(this.dir, SAMPLES_FILE), `${JSON.stringify({ step, time: nowIso(), segment: this.segment, prompt, generated, metrics: m })}\n`);
    const fence = (s: string) => s.replace(/```/g, '` ` `');
    const extra = Object.keys(m).length ? `\n\n${Object.entries(m).map(([k, v]) => `${k}: ${v}`).join(', ')}` : '';
    this.tb?.addText('samples/generation', `**Prompt**\n\n\`\`\`\n${fence(prompt)}\n\`\`\`\n\n**Generated**\n\n\`\`\`\n${fence(generated)}\n\`\`\`${extra}`, step);
  }

  /** A note or issue: notes/<kind>.txt, the metadata, and TensorBoard when it has a step and `events` is true. */
  entry(meta: RunMetadata, kind: NoteKind, text: string, step: number | undefined, events: boolean): void {
    const entry: NoteEntry = { step: step ?? null, time: nowIso(), text };
    appendNoteText(this.dir, kind, entry);
    meta.meta[kind].push(entry);
    meta.save();
    if (step !== undefined && events) this.tb?.addText(kind, text, step);
  }

  /** Notes and issues other processes added while the run trains (see notes.ts): into the metadata and TensorBoard. */
  mergeNotesInbox(meta: RunMetadata): void {
    const size = fs.statSync(path.join(this.dir, INBOX_FILE), { throwIfNoEntry: false })?.size ?? 0;
    if (size === this.inboxSize) return;
    const added = mergeInbox(this.dir, meta.meta);
    this.inboxSize = readInbox(this.dir).size;
    for (const { kind, entry } of added) if (entry.step !== null) this.tb?.addText(kind, entry.text, entry.step);
    if (added.length) meta.save();
  }

  /** Makes every metric line written so far durable. */
  syncMetrics(): void {
    fs.fsyncSync(this.metricsFd);
  }

  /** Writes buffered TensorBoard events out. */
  flushEvents(): void {
    this.tb?.flush();
  }

  /**
   * A kill -9 can lose TensorBoard events that metrics.jsonl (fsynced first) still has: every kept metric the
   * event files lack is written again, with its original time, so TensorBoard shows the same history.
   * `report` records a problem as an issue of the run.
   */
  relogMissingScalars(report: (text: string) => void): void {
    if (!this.tb) return;
    const have = new Set<string>();
    try {
      for (const [tag, pts] of Object.entries(readScalars(path.join(this.dir, 'logs')))) for (const p of pts) have.add(`${p.step}\u0000${tag}`);
    } catch (e) {
      report(`TensorBoard events could not be read for the resume check (${(e as Error).message}); metrics already logged were written again`);
    }
    let relogged = 0;
    for (const rec of readMetrics(this.dir)) {
      const wall = Date.parse(rec.time);
      for (const [tag, value] of Object.entries(rec.metrics)) {
        if (have.has(`${rec.step}\u0000${tag}`)) continue;
        this.tb.addScalar(tag, value, rec.step, Number.isFinite(wall) ? wall / 1000 : undefined);
        relogged++;
      }
    }
    if (relogged > 0) {
      this.tb.flush();
      report(`resume: ${relogged} scalar point(s) in metrics.jsonl were missing from the TensorBoard events (lost in a crash) and were written again`);
    }
  }

  /** Closes the files, lets `rewrite` change them (supersession), and opens them again for appending. */
  reopenAround(rewrite: () => void): void {
    fs.fsyncSync(this.metricsFd);
    fs.closeSync(this.metricsFd);
    this.tb?.close();
    rewrite();
    this.metricsFd = this.openMetrics();
    if (this.tb) this.tb = this.openEvents();
  }

  /** Flushes and closes the event and metric files; failures are warnings (the run's end must still be recorded). */
  close(): void {
    try {
      this.tb?.close();
    } catch (e) {
      process.emitWarning(`reclin: TensorBoard events could not be flushed: ${(e as Error).message}`);
    }
    try {
      fs.fsyncSync(this.metricsFd);
      fs.closeSync(this.metricsFd);
    } catch {
      // already closed
    }
  }
}

/**
 * Adds a note or issue to any run, live or not (`reclin note <dir>`): appended to the run's text file and its
 * inbox at once (see notes.ts). When no live process holds the run, it is merged into the metadata now;
 * otherwise the live run merges it on its next heartbeat. `merged` says which.
 */
export function addNoteToRun(dir: string, kind: 'note' | 'issue', text: string, step?: number): NoteEntry & { merged: boolean } {
  const runDir = path.resolve(dir);
  const meta = readMetaOf(runDir);
  if (typeof text !== 'string' || text.trim() === '') throw new TypeError(`${kind}: text must be a non-empty string, got ${JSON.stringify(text)}`);
  if (step !== undefined && !(Number.isSafeInteger(step) && step >= 0)) throw new TypeError(`${kind}: step must be an integer >= 0, got ${JSON.stringify(step)}`);
  const entry = appendToInbox(runDir, kind === 'note' ? 'notes' : 'issues', text, step ?? null);
  try {
    acquireLock(runDir, meta.id, isStaleElsewhere(runDir));
  } catch (e) {
    if (e instanceof LockError) return { ...entry, merged: false };
    throw e;
  }
  try {
    const fresh = readMetaOf(runDir);
    mergeInbox(runDir, fresh);
    fresh.updated_at = nowIso();
    writeJsonAtomic(path.join(runDir, METADATA_FILE), fresh);
    return { ...entry, merged: true };
  } finally {
    releaseLock(runDir);
  }
}
