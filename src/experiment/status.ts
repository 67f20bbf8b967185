// status.json: what a run is doing now. The writer rewrites it atomically at start, on a heartbeat while it
// runs and at the end (with the error and its stack on failure). A process killed hard leaves `running`
// behind; readRunStatus tells such a dead run from a live one (pid check on the same host, heartbeat age
// elsewhere) and reports it as `stale` — what `reclin list` shows.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonIfExists } from '../format/atomic';
import { ownerAlive } from './lock';
import { readMetrics } from './metrics';

export type RunState = 'running' | 'completed' | 'failed' | 'interrupted';
export const STATUS_FILE = 'status.json';
export const METADATA_FILE = 'experiment_metadata.json';

export interface StatusFile {
  status: RunState;
  run_id: string;
  pid: number;
  host: string;
  proc_start: string | null;
  started_at: string;
  heartbeat_at: string;
  heartbeat_interval_ms: number;
  /** The last step logged or checkpointed. */
  step: number | null;
  /** Run segment: 0 for the first launch, +1 for every resume. */
  segment: number;
  /** What the run is doing between steps when it takes long, e.g. "evaluating at step 500: 3 of 24". */
  activity?: string | null;
  ended_at?: string;
  error?: { name: string; message: string; stack: string | null } | null;
}

export interface RunStatus {
  dir: string;
  /** The recorded state, or `stale` for a `running` record whose writer is gone, `unknown` when unreadable. */
  status: RunState | 'stale' | 'unknown';
  stale: boolean;
  reason: string | null;
  heartbeatAgeMs: number | null;
  recorded: StatusFile | null;
}

/** A `running` record from another host is stale after this long without a heartbeat (W&B uses ~5 min). */
export const DEFAULT_STALE_AFTER_MS = 5 * 60_000;

export function readRunStatus(dir: string, opts: { staleAfterMs?: number; now?: number } = {}): RunStatus {
  const base = { dir: path.resolve(dir), stale: false, reason: null, heartbeatAgeMs: null, recorded: null };
  let rec: StatusFile | undefined;
  try {
    rec = readJsonIfExists<StatusFile>(path.join(dir, STATUS_FILE));
  } catch (e) {
    return { ...base, status: 'unknown', reason: `${STATUS_FILE} is unreadable (${(e as Error).message})` };
  }
  if (!rec) return { ...base, status: 'unknown', reason: `no ${STATUS_FILE}` };
  const now = opts.now ?? Date.now();
  const age = now - Date.parse(rec.heartbeat_at);
  const heartbeatAgeMs = Number.isFinite(age) ? age : null;
  if (rec.status !== 'running') return { ...base, status: rec.status, heartbeatAgeMs, recorded: rec };
  if (rec.host === os.hostname()) {
    if (!ownerAlive(rec)) return { ...base, status: 'stale', stale: true, reason: `recorded as running, but its process ${rec.pid} on ${rec.host} is gone (killed or crashed)`, heartbeatAgeMs, recorded: rec };
    return { ...base, status: 'running', heartbeatAgeMs, recorded: rec };
  }
  const limit = Math.max(opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS, 3 * (rec.heartbeat_interval_ms || 0));
  if (heartbeatAgeMs === null || heartbeatAgeMs > limit) {
    const ago = heartbeatAgeMs === null ? 'an unreadable time' : `${Math.round(heartbeatAgeMs / 1000)} s`;
    return { ...base, status: 'stale', stale: true, reason: `recorded as running on ${rec.host}, but its last heartbeat was ${ago} ago`, heartbeatAgeMs, recorded: rec };
  }
  return { ...base, status: 'running', heartbeatAgeMs, recorded: rec };
}

/**
 * When run segment `segment` was last seen alive: the later of its status.json heartbeat (if status.json is
 * still that segment's) and its last metric record. null when it left no trace.
 */
export function lastSignOfLife(dir: string, segment: number): string | null {
  let best: number | null = null;
  const consider = (iso: string | undefined) => {
    const t = iso === undefined ? NaN : Date.parse(iso);
    if (Number.isFinite(t) && (best === null || t > best)) best = t;
  };
  try {
    const st = readJsonIfExists<StatusFile>(path.join(dir, STATUS_FILE));
    if (st && st.segment === segment) consider(st.heartbeat_at);
  } catch {
    // unreadable status: the records still tell
  }
  try {
    for (const r of readMetrics(dir)) if (r.segment === segment) consider(r.time);
  } catch {
    // a damaged metrics file: the heartbeat alone tells
  }
  return best === null ? null : new Date(best).toISOString();
}

export interface ExperimentListing extends RunStatus {
  name: string;
  id: string | null;
  created_at: string | null;
  phase: string | null;
  step: number | null;
}

/** How deep listExperiments looks for runs below the parent (a demo or sweep folder nests them one level). */
export const LIST_MAX_DEPTH = 4;

/**
 * Every experiment directory under `parent` (a folder holding experiment_metadata.json), also those nested in
 * folders such as a demo's or a sweep's (up to LIST_MAX_DEPTH levels; a run's own folder is not searched, nor
 * folders starting with '.', nor symlinks), oldest first. `name` is the path below `parent`.
 */
export function listExperiments(parent: string, opts: { staleAfterMs?: number } = {}): ExperimentListing[] {
  const out: ExperimentListing[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (depth === 0 && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (depth === 0) throw e;
      return; // an unreadable subfolder holds no run we can show
    }
    for (const ent of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!ent.isDirectory() || ent.name.startsWith('.')) continue;
      const sub = path.join(dir, ent.name);
      if (fs.existsSync(path.join(sub, METADATA_FILE))) out.push(listing(parent, sub, opts));
      else if (depth + 1 < LIST_MAX_DEPTH) walk(sub, depth + 1);
    }
  };
  walk(parent, 0);
  return out.sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
}

function listing(parent: string, dir: string, opts: { staleAfterMs?: number }): ExperimentListing {
  let meta: { id?: string; created_at?: string; phase?: string | null } = {};
  try {
    meta = readJsonIfExists(path.join(dir, METADATA_FILE)) ?? {};
  } catch {
    meta = {};
  }
  const st = readRunStatus(dir, opts);
  const name = path.relative(parent, dir).split(path.sep).join('/');
  return { ...st, name, id: meta.id ?? null, created_at: meta.created_at ?? null, phase: meta.phase ?? null, step: st.recorded?.step ?? null };
}
