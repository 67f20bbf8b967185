// experiment_metadata.json: its fields, the fields a caller may change, and how it is read and written.
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { readJsonIfExists, writeJsonAtomic } from '../format/atomic';
import { mergeInbox, type NoteEntry } from './notes';
import { captureGit, type CommandInfo, type GitInfo, type HostInfo, type RuntimeInfo } from './provenance';
import { METADATA_FILE, type RunState } from './status';

export interface SegmentEntry {
  segment: number;
  started_at: string;
  /** For a killed segment: its last sign of life (heartbeat or record), so duration_s counts only what ran. */
  ended_at: string | null;
  /** killed: the process died without closing (found at the next resume). */
  status: RunState | 'killed';
  /** Resumed from this checkpoint step (null for the first launch). */
  from_step: number | null;
  pid: number;
  host: string;
  command: string;
  git_commit: string | null;
  git_dirty: boolean | null;
}

/** experiment_metadata.json */
export interface ExperimentMetadata {
  format_version: 1;
  id: string;
  name: string;
  description: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  ended_at: string | null;
  status: RunState;
  duration_s: number | null;
  git: GitInfo | null;
  /** The uncommitted diff at start, saved beside the metadata when the tree was dirty. */
  git_diff_file: string | null;
  command: CommandInfo;
  /** Allow-listed environment variables that affect computation (never secrets). */
  env: Record<string, string>;
  host: HostInfo;
  runtime: RuntimeInfo;
  seed: number;
  phase: string;
  device: string;
  num_steps: number;
  batch_size: number;
  learning_rate: number;
  warmup_steps: number;
  base_model: string | null;
  dataset: string | null;
  license: string;
  config_paths: { recursive: string | null; run: string | null; model: string | null };
  config_sha256: { recursive: string; run: string };
  best_checkpoint: { step: number; metric: string | null; value: number | null; mode: 'min' | 'max' } | null;
  last_checkpoint_step: number | null;
  last_step: number | null;
  final_loss: number | null;
  final_metrics: Record<string, number | string>;
  notes: NoteEntry[];
  issues: NoteEntry[];
  segments: SegmentEntry[];
  /** Free-form additions by the caller (updateMetadata({ extra })). */
  extra: Record<string, unknown>;
}

/** Fields a caller may change with updateMetadata; everything else is recorded by the tracker itself. */
export const MetadataUpdateSchema = z.strictObject({
  description: z.string({ error: 'a string' }),
  tags: z.array(z.string(), { error: 'a list of strings' }),
  seed: z.number({ error: 'an integer >= 0' }).int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' }),
  phase: z.string({ error: 'a string' }),
  device: z.string({ error: 'a string' }),
  num_steps: z.number({ error: 'an integer >= 0' }).int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' }),
  batch_size: z.number({ error: 'an integer >= 1' }).int({ error: 'an integer >= 1' }).min(1, { error: 'an integer >= 1' }),
  learning_rate: z.number({ error: 'a number' }),
  warmup_steps: z.number({ error: 'an integer >= 0' }).int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' }),
  base_model: z.string({ error: 'a string or null' }).nullable(),
  dataset: z.string({ error: 'a string or null' }).nullable(),
  license: z.string({ error: 'a license id such as "apache-2.0"' }).min(1, { error: 'a license id such as "apache-2.0"' }),
  final_loss: z.number({ error: 'a number or null' }).nullable(),
  extra: z.record(z.string(), z.unknown(), { error: 'an object' }),
}).partial();
export type MetadataUpdate = z.input<typeof MetadataUpdateSchema>;

export function nowIso(): string {
  return new Date().toISOString();
}

export function runIdFor(name: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  return `${name}_${t}_${randomBytes(3).toString('hex')}`;
}

/** The repository the command runs in, else reclin's own checkout (when it is one). */
export function captureGitOfRun(): ReturnType<typeof captureGit> {
  const here = captureGit(process.cwd());
  return here.info ? here : captureGit(path.resolve(__dirname, '..', '..'));
}

/** The segment entry of a launch (fromStep null) or a resume in this process. */
export function newSegment(segment: number, startedAt: string, fromStep: number | null, command: CommandInfo, git: GitInfo | null): SegmentEntry {
  return { segment, started_at: startedAt, ended_at: null, status: 'running', from_step: fromStep, pid: process.pid, host: os.hostname(), command: command.line, git_commit: git?.commit ?? null, git_dirty: git?.dirty ?? null };
}

/** The metadata of a live run, owned by its tracker: every change is written at once (atomically). */
export class RunMetadata {
  constructor(
    readonly dir: string,
    public meta: ExperimentMetadata,
  ) {}

  save(): void {
    this.meta.updated_at = nowIso();
    writeJsonAtomic(path.join(this.dir, METADATA_FILE), this.meta);
  }
}

/** experiment_metadata.json of `dir` as stored, with a clear error when it is missing or damaged. */
export function readMetaOf(dir: string): ExperimentMetadata {
  const file = path.join(dir, METADATA_FILE);
  let meta: ExperimentMetadata | undefined;
  try {
    meta = readJsonIfExists<ExperimentMetadata>(file);
  } catch (e) {
    throw new Error(`${file}: not readable JSON, the file is truncated or damaged (${(e as Error).message}); nothing was changed`);
  }
  if (!meta) throw new Error(`${dir}: not an experiment directory (no ${METADATA_FILE})`);
  if (typeof meta !== 'object' || Array.isArray(meta) || typeof meta.id !== 'string') throw new Error(`${file}: not experiment metadata (expected an object with an "id"); nothing was changed`);
  return meta;
}

/** A run's metadata as readers should see it: with the notes and issues still waiting in its inbox. */
export function readRunMetadata(dir: string): ExperimentMetadata {
  const runDir = path.resolve(dir);
  const meta = readMetaOf(runDir);
  mergeInbox(runDir, meta);
  return meta;
}
