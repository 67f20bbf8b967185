// status.json of a live run: written at start, refreshed by a heartbeat while the run works, and finally
// written with the end state. Readers (status.ts) call a run whose heartbeat stopped without an end state
// stale; the lock (lock.ts) uses the same judgement to take over from a writer that died.
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../format/atomic';
import { processStartTime, type LockInfo } from './lock';
import { nowIso } from './run-metadata';
import { DEFAULT_STALE_AFTER_MS, STATUS_FILE, type RunState, type StatusFile } from './status';

/** For acquireLock: whether the run's current holder has stopped beating (or never said it runs). */
export function isStaleElsewhere(dir: string): (holder: LockInfo) => boolean {
  return () => {
    const st = readJsonIfExists<StatusFile>(path.join(dir, STATUS_FILE));
    if (!st || st.status !== 'running') return true;
    const age = Date.now() - Date.parse(st.heartbeat_at);
    return !(age <= Math.max(DEFAULT_STALE_AFTER_MS, 3 * (st.heartbeat_interval_ms || 0)));
  };
}

export interface HeartbeatHooks {
  /** Before status.json claims a step: make what was logged up to it durable (it may throw). */
  sync(): void;
  /** After each beat (merging notes other processes added); its errors are the hook's to report. */
  after(): void;
}

export class Heartbeat {
  private status: StatusFile;
  private readonly timer: NodeJS.Timeout;
  private lastBeat = 0;
  private stopped = false;

  constructor(
    private readonly dir: string,
    args: { runId: string; segment: number; step: number | null },
    readonly periodMs: number,
    private readonly hooks: HeartbeatHooks,
  ) {
    const now = nowIso();
    this.status = {
      status: 'running',
      run_id: args.runId,
      pid: process.pid,
      host: os.hostname(),
      proc_start: processStartTime(process.pid),
      started_at: now,
      heartbeat_at: now,
      heartbeat_interval_ms: periodMs,
      step: args.step,
      segment: args.segment,
      error: null,
    };
    this.write();
    this.timer = setInterval(() => this.beat(), periodMs);
    this.timer.unref();
  }

  /** The latest step the run reported (null before the first). */
  get step(): number | null {
    return this.status.step;
  }

  /** Writes status.json now (the step, when given, is the run's latest). */
  beat(step?: number): void {
    if (this.stopped) return;
    try {
      if (step !== undefined) this.status.step = step;
      this.status.heartbeat_at = nowIso();
      this.hooks.sync();
      this.write();
      this.lastBeat = Date.now();
    } catch (e) {
      process.emitWarning(`reclin: could not update ${path.join(this.dir, STATUS_FILE)}: ${(e as Error).message}`);
    }
    this.hooks.after();
  }

  /** Heartbeats also come from logging calls, because a synchronous training loop starves timers. */
  maybeBeat(step: number): void {
    this.status.step = Math.max(this.status.step ?? step, step);
    if (Date.now() - this.lastBeat >= this.periodMs) this.beat();
  }

  /** What the run does between steps (null when done); starting or ending an activity beats at once. */
  setActivity(text: string | null): void {
    const startsOrEnds = (this.status.activity ?? null) === null !== (text === null);
    this.status.activity = text;
    if (startsOrEnds || Date.now() - this.lastBeat >= this.periodMs) this.beat();
  }

  /** No more beats (the run is ending); the final state follows with end(). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** The final status.json: the end state, when, and the error that ended the run (if any). */
  end(state: RunState, at: string, error?: unknown): void {
    this.stop();
    const err = error === undefined || error === null ? null : error instanceof Error ? { name: error.name, message: error.message, stack: error.stack ?? null } : { name: 'Error', message: String(error), stack: null };
    this.status = { ...this.status, status: state, heartbeat_at: at, ended_at: at, error: err };
    this.write();
  }

  private write(): void {
    writeJsonAtomic(path.join(this.dir, STATUS_FILE), this.status);
  }
}
