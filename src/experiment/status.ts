// status.json: what a run is doing now. The writer rewrites it atomically at start, on a heartbeat while it
// runs and at the end (with the error and its stack on failure). A process killed hard leaves `running`
// behind; readRunStatus tells such a dead run from a live one (pid check on the same host, heartbeat age
// elsewhere) and reports it as `stale` — what `reclin list` shows.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonIfExists } from './atomic';
import { ownerAlive } from './lock';

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

export interface ExperimentListing extends RunStatus {
  name: string;
  id: string | null;
  created_at: string | null;
  phase: string | null;
  step: number | null;
}

/** Every experiment directory directly under `parent` (those holding experiment_metadata.json), oldest first. */
export function listExperiments(parent: string, opts: { staleAfterMs?: number } = {}): ExperimentListing[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: ExperimentListing[] = [];
  for (const name of names) {
    const dir = path.join(parent, name);
    if (name.startsWith('.') || !fs.existsSync(path.join(dir, METADATA_FILE))) continue;
    let meta: { id?: string; created_at?: string; phase?: string | null } = {};
    try {
      meta = readJsonIfExists(path.join(dir, METADATA_FILE)) ?? {};
    } catch {
      meta = {};
    }
    const st = readRunStatus(dir, opts);
    out.push({ ...st, name, id: meta.id ?? null, created_at: meta.created_at ?? null, phase: meta.phase ?? null, step: st.recorded?.step ?? null });
  }
  return out.sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
}
