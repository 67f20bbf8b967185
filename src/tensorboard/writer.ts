// Appends TensorBoard event files. Records are framed and buffered in memory, then written with one
// append + fsync per flush (every flushIntervalMs on an unref'd timer, when the buffer passes 1 MiB,
// on close, and at process exit). A failed write is cut back to the last whole record, so a later
// append never lands after half a record; a crash mid-write leaves only a truncated tail, which
// readers (ours and TensorBoard's) skip.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeEvent, type TBEvent } from './event';
import { makeHistogram } from './histogram';
import { encodeRecord } from './record';

export interface TensorBoardWriterOptions {
  /** How often buffered events are written out, in ms (default 2000; 0 writes every event at once). */
  flushIntervalMs?: number;
  /** Appended to the file name, as in TensorBoard's EventFileWriter. */
  filenameSuffix?: string;
}

const MAX_BUFFERED_BYTES = 1 << 20;

// The last part of the file name, like TensorBoard's _global_uid: distinct per writer in one process.
let nextUid = 0;

// One process 'exit' hook for all writers (not one listener each) flushes what is still buffered.
const openWriters = new Set<TensorBoardWriter>();
let exitHookInstalled = false;
function closeAllOnExit(): void {
  for (const w of [...openWriters]) {
    try {
      w.close();
    } catch {
      // Nothing can be reported or retried while the process exits.
    }
  }
}

export class TensorBoardWriter {
  /** The events file this writer appends to. */
  readonly path: string;
  readonly logDir: string;
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** File size after the last complete flush: a failed write is truncated back to this. */
  private committedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly writeThrough: boolean;
  private warnedBackgroundError = false;

  constructor(logDir: string, opts: TensorBoardWriterOptions = {}) {
    if (typeof logDir !== 'string' || logDir === '') {
      throw new TypeError(`TensorBoardWriter: logDir must be a non-empty string, got ${JSON.stringify(logDir)}`);
    }
    const interval = opts.flushIntervalMs ?? 2000;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0) {
      throw new TypeError(`TensorBoardWriter: flushIntervalMs must be a finite number >= 0, got ${String(interval)}`);
    }
    const suffix = opts.filenameSuffix ?? '';
    if (typeof suffix !== 'string' || /[/\\\0]/.test(suffix)) {
      throw new TypeError(`TensorBoardWriter: filenameSuffix must be a string without path separators, got ${JSON.stringify(suffix)}`);
    }
    this.logDir = logDir;
    fs.mkdirSync(logDir, { recursive: true });
    const seconds = String(Math.floor(Date.now() / 1000)).padStart(10, '0');
    // 'ax': create exclusively, append-only. Another process with our pid (reuse) and second could own
    // the same name, so step the counter rather than share a file.
    for (;;) {
      const name = `events.out.tfevents.${seconds}.${os.hostname()}.${process.pid}.${nextUid++}${suffix}`;
      const p = path.join(logDir, name);
      try {
        this.fd = fs.openSync(p, 'ax');
        this.path = p;
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    this.writeThrough = interval === 0;
    this.enqueue({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' });
    this.flush();
    if (!this.writeThrough) {
      this.timer = setInterval(() => this.flushInBackground(), interval);
      this.timer.unref();
    }
    openWriters.add(this);
    if (!exitHookInstalled) {
      process.on('exit', closeAllOnExit);
      exitHookInstalled = true;
    }
  }

  addScalar(tag: string, value: number, step: number, wallTime?: number): void {
    checkTag('addScalar', tag);
    checkValue('addScalar', tag, value);
    checkStep('addScalar', step);
    this.enqueue({ wallTime: wallTimeOrNow('addScalar', wallTime), step, scalars: [{ tag, value }] });
  }

  /** Several scalars at one step, in one event. */
  addScalars(values: Record<string, number>, step: number): void {
    if (values === null || typeof values !== 'object') {
      throw new TypeError(`addScalars: values must be an object of tag -> number, got ${String(values)}`);
    }
    checkStep('addScalars', step);
    const scalars = Object.entries(values).map(([tag, value]) => {
      checkTag('addScalars', tag);
      checkValue('addScalars', tag, value);
      return { tag, value };
    });
    if (scalars.length > 0) this.enqueue({ wallTime: Date.now() / 1000, step, scalars });
  }

  /** Text for TensorBoard's Text tab (rendered as Markdown there). */
  addText(tag: string, text: string, step: number): void {
    checkTag('addText', tag);
    if (typeof text !== 'string') throw new TypeError(`addText('${tag}'): text must be a string, got ${typeof text}`);
    checkStep('addText', step);
    this.enqueue({ wallTime: Date.now() / 1000, step, texts: [{ tag, text }] });
  }

  /** A histogram of `values` (finite numbers, at least one) with TensorFlow's default exponential buckets. */
  addHistogram(tag: string, values: ArrayLike<number>, step: number): void {
    checkTag('addHistogram', tag);
    if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
      throw new TypeError(`addHistogram('${tag}'): values must be an array or typed array, got ${String(values)}`);
    }
    checkStep('addHistogram', step);
    this.enqueue({ wallTime: Date.now() / 1000, step, histograms: [makeHistogram(tag, values)] });
  }

  /** Writes everything buffered and fsyncs it. Throws if the write fails (the buffer is kept for a retry). */
  flush(): void {
    if (this.fd === undefined || this.pendingBytes === 0) return;
    const fd = this.fd;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    try {
      let off = 0;
      while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
      fs.fsyncSync(fd);
    } catch (e) {
      try {
        fs.ftruncateSync(fd, this.committedBytes);
      } catch {
        // The reader still stops cleanly at a partial tail; the original error is the one to report.
      }
      throw new Error(`TensorBoardWriter: writing ${this.path} failed: ${(e as Error).message}`, { cause: e });
    }
    this.committedBytes += data.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flushes and closes the file. Idempotent; later add* calls throw. */
  close(): void {
    if (this.fd === undefined) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    openWriters.delete(this);
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
      this.pending = [];
      this.pendingBytes = 0;
    }
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  private enqueue(ev: TBEvent): void {
    if (this.fd === undefined) throw new Error(`TensorBoardWriter: ${this.path} is closed`);
    const rec = encodeRecord(encodeEvent(ev));
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    if (this.writeThrough || this.pendingBytes >= MAX_BUFFERED_BYTES) this.flush();
  }

  // A timer callback must not throw (it would kill the process): warn once and retry on the next tick.
  private flushInBackground(): void {
    try {
      this.flush();
    } catch (e) {
      if (!this.warnedBackgroundError) process.emitWarning(`${(e as Error).message}; will retry`, 'TensorBoardWriter');
      this.warnedBackgroundError = true;
    }
  }
}

function checkTag(fn: string, tag: unknown): void {
  if (typeof tag !== 'string' || tag === '') throw new TypeError(`${fn}: tag must be a non-empty string, got ${JSON.stringify(tag)}`);
}

function checkValue(fn: string, tag: string, value: unknown): void {
  if (typeof value !== 'number') throw new TypeError(`${fn}('${tag}'): value must be a number, got ${typeof value} ${String(value)}`);
}

function checkStep(fn: string, step: unknown): void {
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw new TypeError(`${fn}: step must be an integer, got ${String(step)}`);
  }
}

function wallTimeOrNow(fn: string, wallTime: number | undefined): number {
  if (wallTime === undefined) return Date.now() / 1000;
  if (typeof wallTime !== 'number' || !Number.isFinite(wallTime)) {
    throw new TypeError(`${fn}: wallTime must be finite seconds since the epoch, got ${String(wallTime)}`);
  }
  return wallTime;
}
