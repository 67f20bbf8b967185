// ExperimentTracker: the record every run leaves behind (layout in docs/design/architecture.md, "The experiment directory").
// One tracker = one writer: it claims a fresh directory (or resumes one), holds its lock, keeps status.json
// alive with a heartbeat, and writes every file crash-safely (JSON: temp + fsync + rename; logs: append-only
// lines; checkpoints: a temporary folder renamed when complete).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TensorBoardWriter, readScalars } from '../tensorboard';
import { fsyncDir, readJsonIfExists, writeFileAtomic, writeJsonAtomic } from './atomic';
import { applyRetention, cleanupIncompleteCheckpoints, listCheckpoints, loadCheckpointDir, resolveCheckpoint, supersedeCheckpointsAfter, writeCheckpoint, CHECKPOINTS_DIR, type LoadedCheckpoint } from './checkpoint';
import { ConfigError, formatProblems, loadRecursiveConfig, loadRunConfig, parseRecursiveConfig, parseRunConfig, type RecursiveConfig, type RecursiveConfigInput, type RunConfig, type RunConfigInput } from './config';
import { acquireLock, releaseLock, processStartTime, LockError, type LockInfo } from './lock';
import { encodeValue, metricSummary, readJsonl, readMetrics, repairTornTail, validateMetricsFile, supersedeEventsAfter, supersedeJsonlAfter, METRICS_FILE, SAMPLES_FILE, SUPERSEDED_DIR, TEXT_FILE, type MetricRecord } from './metrics';
import { renderModelCard } from './modelcard';
import { appendNoteText, appendToInbox, mergeInbox, readInbox, INBOX_FILE, type NoteEntry } from './notes';
import { captureCommand, captureEnv, captureGit, captureHost, captureRuntime, type CommandInfo, type GitInfo, type HostInfo, type RuntimeInfo } from './provenance';
import { DEFAULT_STALE_AFTER_MS, METADATA_FILE, STATUS_FILE, lastSignOfLife, type RunState, type StatusFile } from './status';
import type { TensorEntry } from './safetensors';
import { tokenizerModelFiles, type ModelDirFile } from '../tokenizer/files';
import { z } from 'zod';

export type { NoteEntry };

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
const MetadataUpdateSchema = z.strictObject({
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

export interface CreateTrackerOptions {
  /** Folder name of the run under `dir`: letters, digits, '.', '_' and '-'. */
  name: string;
  /** Parent folder of experiments (default ./experiments). */
  dir?: string;
  description?: string;
  tags?: string[];
  /** A config object or the path of a JSON file (validated; a bad one fails before anything is written). */
  recursiveConfig?: RecursiveConfigInput | string;
  runConfig?: RunConfigInput | string;
  /** The model's config.json (written into every checkpoint's model/ folder). */
  modelConfig?: Record<string, unknown>;
  configPaths?: { recursive?: string | null; run?: string | null; model?: string | null };
  /** The command line to record (default process.argv). */
  command?: string[];
  /** When <dir>/<name> exists: 'error' (default) refuses; 'suffix' picks <name>_2, <name>_3, ... */
  ifExists?: 'error' | 'suffix';
  /** status.json heartbeat period (default 10 s). */
  heartbeatMs?: number;
  /** Write TensorBoard event files to logs/ (default true). */
  tensorboard?: boolean;
  flushIntervalMs?: number;
  /** Retention and best selection; default from runConfig.checkpoint. */
  keepLast?: number | null;
  bestMetric?: string;
  bestMode?: 'min' | 'max';
  license?: string;
  dataset?: string | null;
}

export interface ResumeTrackerOptions {
  /**
   * The checkpoint step training restarts from: records logged after it are superseded (moved to superseded/).
   * Default: the latest complete checkpoint (or -1, superseding everything, when there is none). null: keep all.
   */
  fromStep?: number | null;
  /** The model's config.json for this run's checkpoints (default: the newest checkpoint's). */
  modelConfig?: Record<string, unknown>;
  command?: string[];
  heartbeatMs?: number;
  tensorboard?: boolean;
  flushIntervalMs?: number;
}

export interface SaveCheckpointArgs {
  step: number;
  /** HF-style names -> Tensor or { dtype: 'F32'|'BF16'|'I32', shape, data }. */
  model: Record<string, TensorEntry>;
  /** Recursive sidecar / LoRA tensors, kept beside the model (model/sidecar.safetensors). */
  sidecar?: Record<string, TensorEntry> | null;
  optimizer?: Record<string, TensorEntry> | null;
  /** Step, schedule state, RNG state, data position, best-so-far: whatever resuming needs (JSON). */
  trainerState?: Record<string, unknown>;
  metrics?: Record<string, number>;
  /** Whether this is the best checkpoint so far; default: judged from metrics[bestMetric] and bestMode. */
  isBest?: boolean;
  /** Overrides the tracker's modelConfig for this checkpoint. */
  modelConfig?: Record<string, unknown>;
}

export class ExperimentExistsError extends Error {
  readonly dir: string;
  constructor(dir: string) {
    super(`${dir} already exists: a run never reuses another run's directory. Resume it (ExperimentTracker.resume / reclin resume), pick another name, or pass ifExists: 'suffix'.`);
    this.name = 'ExperimentExistsError';
    this.dir = dir;
  }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function nowIso(): string {
  return new Date().toISOString();
}

function runIdFor(name: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  return `${name}_${t}_${randomBytes(3).toString('hex')}`;
}

/** The repository the command runs in, else reclin's own checkout (when it is one). */
function captureGitOfRun(): ReturnType<typeof captureGit> {
  const here = captureGit(process.cwd());
  return here.info ? here : captureGit(path.resolve(__dirname, '..', '..'));
}

function isStaleElsewhere(dir: string): (holder: LockInfo) => boolean {
  return () => {
    const st = readJsonIfExists<StatusFile>(path.join(dir, STATUS_FILE));
    if (!st || st.status !== 'running') return true;
    const age = Date.now() - Date.parse(st.heartbeat_at);
    return !(age <= Math.max(DEFAULT_STALE_AFTER_MS, 3 * (st.heartbeat_interval_ms || 0)));
  };
}

/** A model config for checkpoints when the caller gave none: the run config's preset or file, if readable. */
function modelConfigFromRunConfig(rc: RunConfig): Record<string, unknown> | null {
  const ref = rc.model.config;
  if (!ref) return null;
  const candidates = [ref, path.resolve(__dirname, '..', '..', 'configs', 'models', `${ref}.json`)];
  for (const c of candidates) {
    try {
      if (c.endsWith('.json') && fs.statSync(c).isFile()) return JSON.parse(fs.readFileSync(c, 'utf8')) as Record<string, unknown>;
    } catch {
      // not this one
    }
  }
  return null;
}

function pickFinalLoss(last: Record<string, number>): number | null {
  for (const k of ['eval/loss', 'train/loss', 'train/loss/total', 'loss']) if (Number.isFinite(last[k])) return last[k];
  const any = Object.keys(last).find((k) => /loss/.test(k) && Number.isFinite(last[k]));
  return any ? last[any] : null;
}

export class ExperimentTracker {
  readonly dir: string;
  readonly id: string;
  readonly name: string;
  readonly recursiveConfig: RecursiveConfig;
  readonly runConfig: RunConfig;
  /** 0 for the first launch, +1 per resume. */
  readonly segment: number;

  private meta: ExperimentMetadata;
  private status: StatusFile;
  private metricsFd: number;
  private tb: TensorBoardWriter | null;
  private heartbeatTimer: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private lastBeat = 0;
  private closedState: RunState | null = null;
  private modelConfig: Record<string, unknown> | null;
  private readonly keepLast: number | null;
  private readonly bestMetric: string;
  private readonly bestMode: 'min' | 'max';
  private readonly onExit: () => void;
  private readonly flushIntervalMs: number | undefined;
  /** final_loss given by the caller (updateMetadata) in this segment; otherwise it is taken from the logs. */
  private finalLossGiven = false;
  /** Bytes of notes/inbox.jsonl already merged into the metadata. */
  private inboxSize = 0;
  /** The run's tokenizer files, read (and hash-checked) once, copied into every checkpoint's model/. */
  private tokenizerFiles: ModelDirFile[] | null = null;

  private constructor(args: {
    dir: string;
    meta: ExperimentMetadata;
    recursiveConfig: RecursiveConfig;
    runConfig: RunConfig;
    segment: number;
    heartbeatMs: number;
    tensorboard: boolean;
    flushIntervalMs?: number;
    modelConfig: Record<string, unknown> | null;
    keepLast: number | null;
    bestMetric: string;
    bestMode: 'min' | 'max';
  }) {
    this.dir = args.dir;
    this.meta = args.meta;
    this.id = args.meta.id;
    this.name = args.meta.name;
    this.recursiveConfig = args.recursiveConfig;
    this.runConfig = args.runConfig;
    this.segment = args.segment;
    this.heartbeatMs = args.heartbeatMs;
    this.modelConfig = args.modelConfig;
    this.keepLast = args.keepLast;
    this.bestMetric = args.bestMetric;
    this.bestMode = args.bestMode;
    this.flushIntervalMs = args.flushIntervalMs;
    for (const sub of ['checkpoints', 'logs', 'metrics', 'notes']) fs.mkdirSync(path.join(this.dir, sub), { recursive: true });
    this.metricsFd = fs.openSync(path.join(this.dir, METRICS_FILE), 'a');
    this.tb = args.tensorboard ? new TensorBoardWriter(path.join(this.dir, 'logs'), { flushIntervalMs: args.flushIntervalMs }) : null;
    const now = nowIso();
    this.status = {
      status: 'running',
      run_id: this.id,
      pid: process.pid,
      host: os.hostname(),
      proc_start: processStartTime(process.pid),
      started_at: now,
      heartbeat_at: now,
      heartbeat_interval_ms: this.heartbeatMs,
      step: this.meta.last_step,
      segment: this.segment,
      error: null,
    };
    this.writeStatus();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
    // A process that exits without close() (an uncaught error, process.exit) still leaves a truthful status.
    this.onExit = () => this.closeOnExit();
    process.on('exit', this.onExit);
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** Validates everything, claims a fresh run directory, records provenance and starts the run. */
  static async create(opts: CreateTrackerOptions): Promise<ExperimentTracker> {
    const problems: string[] = [];
    if (typeof opts !== 'object' || opts === null) throw new ConfigError('ExperimentTracker.create', ['(options): got nothing, allowed: an object with at least a name'], 'options');
    if (typeof opts.name !== 'string' || !NAME_RE.test(opts.name)) problems.push(`name: got ${JSON.stringify(opts.name)}, allowed: a folder name of letters, digits, '.', '_' and '-' (not starting with '.', '_' or '-')`);
    if (opts.ifExists !== undefined && opts.ifExists !== 'error' && opts.ifExists !== 'suffix') problems.push(`ifExists: got ${JSON.stringify(opts.ifExists)}, allowed: "error" or "suffix"`);
    if (opts.heartbeatMs !== undefined && !(Number.isFinite(opts.heartbeatMs) && opts.heartbeatMs > 0)) problems.push(`heartbeatMs: got ${JSON.stringify(opts.heartbeatMs)}, allowed: a number > 0`);
    if (opts.keepLast !== undefined && opts.keepLast !== null && !(Number.isInteger(opts.keepLast) && opts.keepLast >= 1)) problems.push(`keepLast: got ${JSON.stringify(opts.keepLast)}, allowed: an integer >= 1, or null to keep every checkpoint`);
    if (opts.bestMode !== undefined && opts.bestMode !== 'min' && opts.bestMode !== 'max') problems.push(`bestMode: got ${JSON.stringify(opts.bestMode)}, allowed: "min" or "max"`);
    if (opts.modelConfig !== undefined && (typeof opts.modelConfig !== 'object' || opts.modelConfig === null || Array.isArray(opts.modelConfig))) problems.push(`modelConfig: got ${JSON.stringify(opts.modelConfig)}, allowed: the model's config.json object`);
    if (problems.length) throw new ConfigError('ExperimentTracker.create', problems, 'options');

    // Configs first: a bad config fails before anything is written.
    const recursiveConfig = typeof opts.recursiveConfig === 'string' ? loadRecursiveConfig(opts.recursiveConfig) : parseRecursiveConfig(opts.recursiveConfig ?? {}, 'recursiveConfig');
    const runConfig = typeof opts.runConfig === 'string' ? loadRunConfig(opts.runConfig) : parseRunConfig(opts.runConfig ?? {}, 'runConfig');

    const parent = path.resolve(opts.dir ?? 'experiments');
    fs.mkdirSync(parent, { recursive: true });
    let name = opts.name;
    for (let n = 2; fs.existsSync(path.join(parent, name)); n++) {
      if (opts.ifExists !== 'suffix') throw new ExperimentExistsError(path.join(parent, name));
      name = `${opts.name}_${n}`;
    }
    // The run is assembled in a hidden temporary folder and renamed into place when its files are complete, so
    // a failure during creation (disk full, a bad value) leaves no half-made run behind.
    const tmp = fs.mkdtempSync(path.join(parent, `.${name}.creating-`));
    const dir = path.join(parent, name);
    const id = runIdFor(name);
    let meta: ExperimentMetadata;
    try {
      acquireLock(tmp, id);
      meta = ExperimentTracker.writeNewRun(tmp, { opts, name, id, recursiveConfig, runConfig });
      for (const sub of ['checkpoints', 'logs', 'metrics', 'notes']) fs.mkdirSync(path.join(tmp, sub));
      // rename(2) would replace an empty directory made meanwhile: refuse instead.
      if (fs.existsSync(dir)) throw new ExperimentExistsError(dir);
      fs.renameSync(tmp, dir);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    fsyncDir(parent);
    return new ExperimentTracker({
      dir,
      meta,
      recursiveConfig,
      runConfig,
      segment: 0,
      heartbeatMs: opts.heartbeatMs ?? 10_000,
      tensorboard: opts.tensorboard ?? true,
      flushIntervalMs: opts.flushIntervalMs,
      modelConfig: opts.modelConfig ?? modelConfigFromRunConfig(runConfig),
      keepLast: opts.keepLast !== undefined ? opts.keepLast : runConfig.checkpoint.keep_last,
      bestMetric: opts.bestMetric ?? runConfig.checkpoint.best_metric,
      bestMode: opts.bestMode ?? runConfig.checkpoint.best_mode,
    });
  }

  /** The files of a new run (configs, metadata, git diff) in `dir`; returns the metadata. */
  private static writeNewRun(dir: string, a: { opts: CreateTrackerOptions; name: string; id: string; recursiveConfig: RecursiveConfig; runConfig: RunConfig }): ExperimentMetadata {
    const { opts, name, id, recursiveConfig, runConfig } = a;
    const created = nowIso();
    const { info: git, diff } = captureGitOfRun();
    let gitDiffFile: string | null = null;
    if (diff.length > 0) {
      gitDiffFile = 'git_diff.patch';
      writeFileAtomic(path.join(dir, gitDiffFile), diff);
    }
    const command = captureCommand(opts.command);
    const paths = {
      recursive: opts.configPaths?.recursive ?? (typeof opts.recursiveConfig === 'string' ? path.resolve(opts.recursiveConfig) : null),
      run: opts.configPaths?.run ?? (typeof opts.runConfig === 'string' ? path.resolve(opts.runConfig) : null),
      model: opts.configPaths?.model ?? null,
    };
    const recursiveSha = writeJsonAtomic(path.join(dir, 'recursive_config.json'), recursiveConfig);
    const runSha = writeJsonAtomic(path.join(dir, 'run_config.json'), runConfig);
    const meta: ExperimentMetadata = {
      format_version: 1,
      id,
      name,
      description: opts.description ?? '',
      tags: opts.tags ?? [],
      created_at: created,
      updated_at: created,
      ended_at: null,
      status: 'running',
      duration_s: null,
      git,
      git_diff_file: gitDiffFile,
      command,
      env: captureEnv(),
      host: captureHost(),
      runtime: captureRuntime(),
      seed: runConfig.seed,
      phase: runConfig.phase,
      device: runConfig.device,
      num_steps: runConfig.num_steps,
      batch_size: runConfig.batch_size,
      learning_rate: runConfig.optimizer.lr,
      warmup_steps: runConfig.schedule.warmup_steps,
      base_model: runConfig.model.path,
      dataset: opts.dataset ?? runConfig.data.train,
      license: opts.license ?? 'apache-2.0',
      config_paths: paths,
      config_sha256: { recursive: recursiveSha, run: runSha },
      best_checkpoint: null,
      last_checkpoint_step: null,
      last_step: null,
      final_loss: null,
      final_metrics: {},
      notes: [],
      issues: [],
      segments: [{ segment: 0, started_at: created, ended_at: null, status: 'running', from_step: null, pid: process.pid, host: os.hostname(), command: command.line, git_commit: git?.commit ?? null, git_dirty: git?.dirty ?? null }],
      extra: {},
    };
    writeJsonAtomic(path.join(dir, METADATA_FILE), meta);
    return meta;
  }

  /**
   * Continues an existing run in its own directory (a new segment). Refused while another live process
   * writes it. Records logged after the restart step are superseded (see ResumeTrackerOptions.fromStep).
   */
  static async resume(dir: string, opts: ResumeTrackerOptions = {}): Promise<ExperimentTracker> {
    const runDir = path.resolve(dir);
    const metaFile = path.join(runDir, METADATA_FILE);
    if (!fs.existsSync(metaFile)) throw new Error(`${runDir}: not an experiment directory (no ${METADATA_FILE})`);
    if (opts.fromStep !== undefined && opts.fromStep !== null && !(Number.isSafeInteger(opts.fromStep) && opts.fromStep >= -1)) {
      throw new ConfigError('ExperimentTracker.resume', [`fromStep: got ${JSON.stringify(opts.fromStep)}, allowed: a checkpoint step (integer >= 0), -1 to supersede everything, or null`], 'options');
    }
    if (opts.modelConfig !== undefined && (typeof opts.modelConfig !== 'object' || opts.modelConfig === null || Array.isArray(opts.modelConfig))) {
      throw new ConfigError('ExperimentTracker.resume', [`modelConfig: got ${JSON.stringify(opts.modelConfig)}, allowed: the model's config.json object`], 'options');
    }
    // Validate the stored configs, metadata and logs before touching anything: a damaged record fails now, not
    // after hours of training, and leaves no lock or running status behind.
    const recursiveConfig = loadRecursiveConfig(path.join(runDir, 'recursive_config.json'));
    const runConfig = loadRunConfig(path.join(runDir, 'run_config.json'));
    const meta = readMetaOf(runDir);
    validateMetricsFile(runDir);
    for (const f of [TEXT_FILE, SAMPLES_FILE]) readJsonl(path.join(runDir, f));
    acquireLock(runDir, meta.id, isStaleElsewhere(runDir));
    try {
      cleanupIncompleteCheckpoints(runDir);
      // A crash mid-append may have left a torn last line: cut it before anything is appended again.
      for (const f of [METRICS_FILE, TEXT_FILE, SAMPLES_FILE]) repairTornTail(path.join(runDir, f), path.join(runDir, SUPERSEDED_DIR, 'torn.jsonl'));
      for (const f of ['notes.txt', 'issues.txt']) {
        const p = path.join(runDir, 'notes', f);
        if (fs.existsSync(p) && fs.statSync(p).size > 0 && !fs.readFileSync(p, 'utf8').endsWith('\n')) fs.appendFileSync(p, '\n');
      }
      const segment = (meta.segments?.length ?? 1);
      // A segment still `running` died without closing: it ran until its last sign of life (read before
      // anything is superseded, since superseded records were computed in that time too).
      for (const s of meta.segments ?? []) {
        if (s.status !== 'running') continue;
        s.status = 'killed';
        s.ended_at = lastSignOfLife(runDir, s.segment) ?? s.started_at;
      }
      mergeInbox(runDir, meta);
      const latest = listCheckpoints(runDir).at(-1)?.step;
      const fromStep = opts.fromStep === undefined ? (latest ?? -1) : opts.fromStep;
      if (fromStep !== null) {
        const sup = path.join(runDir, SUPERSEDED_DIR);
        supersedeJsonlAfter(path.join(runDir, METRICS_FILE), fromStep, path.join(sup, 'metrics.jsonl'), segment);
        supersedeJsonlAfter(path.join(runDir, TEXT_FILE), fromStep, path.join(sup, 'text.jsonl'), segment);
        supersedeJsonlAfter(path.join(runDir, SAMPLES_FILE), fromStep, path.join(sup, 'generation_samples.jsonl'), segment);
        supersedeEventsAfter(path.join(runDir, 'logs'), fromStep, path.join(sup, `logs_segment${segment}`));
        supersedeCheckpointsAfter(runDir, fromStep, segment);
        if (meta.best_checkpoint && meta.best_checkpoint.step > fromStep) meta.best_checkpoint = null;
        if (meta.last_step !== null && meta.last_step > fromStep) meta.last_step = fromStep >= 0 ? fromStep : null;
      }
      const command = captureCommand(opts.command);
      const { info: git } = captureGitOfRun();
      const now = nowIso();
      meta.segments = [...(meta.segments ?? []), { segment, started_at: now, ended_at: null, status: 'running', from_step: fromStep, pid: process.pid, host: os.hostname(), command: command.line, git_commit: git?.commit ?? null, git_dirty: git?.dirty ?? null }];
      meta.status = 'running';
      meta.ended_at = null;
      meta.updated_at = now;
      meta.last_checkpoint_step = listCheckpoints(runDir).at(-1)?.step ?? null;
      writeJsonAtomic(metaFile, meta);
      const tracker = new ExperimentTracker({
        dir: runDir,
        meta,
        recursiveConfig,
        runConfig,
        segment,
        heartbeatMs: opts.heartbeatMs ?? 10_000,
        tensorboard: opts.tensorboard ?? true,
        flushIntervalMs: opts.flushIntervalMs,
        modelConfig: opts.modelConfig ?? (() => {
          const last = listCheckpoints(runDir).at(-1);
          return last ? (readJsonIfExists<Record<string, unknown>>(path.join(last.dir, 'model', 'config.json')) ?? null) : modelConfigFromRunConfig(runConfig);
        })(),
        keepLast: runConfig.checkpoint.keep_last,
        bestMetric: runConfig.checkpoint.best_metric,
        bestMode: runConfig.checkpoint.best_mode,
      });
      tracker.relogMissingScalars();
      return tracker;
    } catch (e) {
      releaseLock(runDir);
      throw e;
    }
  }

  /**
   * A kill -9 can lose TensorBoard events that metrics.jsonl (fsynced first) still has: every kept metric the
   * event files lack is written again, with its original time, so TensorBoard shows the same history.
   */
  private relogMissingScalars(): void {
    if (!this.tb) return;
    const have = new Set<string>();
    try {
      for (const [tag, pts] of Object.entries(readScalars(path.join(this.dir, 'logs')))) for (const p of pts) have.add(`${p.step}\u0000${tag}`);
    } catch (e) {
      this.addIssueInternal(`TensorBoard events could not be read for the resume check (${(e as Error).message}); metrics already logged were written again`, null);
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
      this.addIssueInternal(`resume: ${relogged} scalar point(s) in metrics.jsonl were missing from the TensorBoard events (lost in a crash) and were written again`, null);
    }
  }

  /** Ends the run: flushes logs, records final metrics, writes the model card and the final status, unlocks. */
  async close(status: RunState = 'completed', error?: unknown): Promise<void> {
    if (this.closedState !== null) return;
    if (!['completed', 'failed', 'interrupted'].includes(status)) throw new TypeError(`close: status must be "completed", "failed" or "interrupted", got ${JSON.stringify(status)}`);
    this.finish(status, error);
    try {
      this.createModelCard();
    } catch (e) {
      this.addIssueInternal(`model card could not be written: ${(e as Error).message}`, null);
    }
    process.removeListener('exit', this.onExit);
    releaseLock(this.dir);
  }

  get closed(): boolean {
    return this.closedState !== null;
  }

  private finish(status: RunState, error?: unknown): void {
    this.closedState = status;
    clearInterval(this.heartbeatTimer);
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
    const now = nowIso();
    mergeInbox(this.dir, this.meta);
    let records: MetricRecord[] = [];
    try {
      records = readMetrics(this.dir);
    } catch (e) {
      // The final status must still be written; the damaged line is reported, not fatal here.
      this.addIssueInternal(`final metrics could not be read: ${(e as Error).message}`, null);
    }
    const last = Object.fromEntries(Object.entries(metricSummary(records)).map(([k, s]) => [k, s.last]));
    this.meta.final_metrics = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, encodeValue(v)]));
    if (!this.finalLossGiven) this.meta.final_loss = pickFinalLoss(last);
    this.meta.status = status;
    this.meta.ended_at = now;
    const seg = this.meta.segments.at(-1);
    if (seg) {
      seg.ended_at = now;
      seg.status = status;
    }
    this.meta.duration_s = Math.round(this.meta.segments.reduce((s, g) => s + (Date.parse(g.ended_at ?? now) - Date.parse(g.started_at)), 0) / 10) / 100;
    this.writeMeta();
    const err = error === undefined || error === null ? null : error instanceof Error ? { name: error.name, message: error.message, stack: error.stack ?? null } : { name: 'Error', message: String(error), stack: null };
    this.status = { ...this.status, status, heartbeat_at: now, ended_at: now, error: err };
    this.writeStatus();
  }

  private closeOnExit(): void {
    if (this.closedState !== null) return;
    const code = process.exitCode ?? 0;
    try {
      this.finish(code === 0 ? 'interrupted' : 'failed', new Error(`the process exited (code ${code}) before the tracker was closed`));
    } finally {
      releaseLock(this.dir);
    }
  }

  // ---------------------------------------------------------------------------------------- logging

  private assertOpen(what: string): void {
    if (this.closedState !== null) throw new Error(`${what}: the tracker of ${this.dir} is closed (${this.closedState})`);
  }

  private heartbeat(step?: number): void {
    if (this.closedState !== null) return;
    try {
      if (step !== undefined) this.status.step = step;
      this.status.heartbeat_at = nowIso();
      fs.fsyncSync(this.metricsFd);
      this.writeStatus();
      this.lastBeat = Date.now();
    } catch (e) {
      process.emitWarning(`reclin: could not update ${path.join(this.dir, STATUS_FILE)}: ${(e as Error).message}`);
    }
    try {
      this.mergeNotesInbox();
    } catch (e) {
      process.emitWarning(`reclin: could not merge ${path.join(this.dir, INBOX_FILE)} (the entries stay there): ${(e as Error).message}`);
    }
  }

  /** Notes and issues other processes added while the run trains (see notes.ts): into the metadata and TensorBoard. */
  private mergeNotesInbox(): void {
    const size = fs.statSync(path.join(this.dir, INBOX_FILE), { throwIfNoEntry: false })?.size ?? 0;
    if (size === this.inboxSize) return;
    const added = mergeInbox(this.dir, this.meta);
    this.inboxSize = readInbox(this.dir).size;
    for (const { kind, entry } of added) if (entry.step !== null) this.tb?.addText(kind, entry.text, entry.step);
    if (added.length) this.writeMeta();
  }

  /**
   * Says in status.json what the run is doing during long work between steps (null when done), and beats the
   * heartbeat at most once per heartbeat period, so a long evaluation never looks like a dead run.
   */
  setActivity(text: string | null): void {
    this.assertOpen('setActivity');
    if (text !== null && typeof text !== 'string') throw new TypeError(`setActivity: text must be a string or null, got ${JSON.stringify(text)}`);
    const startsOrEnds = (this.status.activity ?? null) === null !== (text === null);
    this.status.activity = text;
    if (startsOrEnds || Date.now() - this.lastBeat >= this.heartbeatMs) this.heartbeat();
  }

  /** Heartbeats also come from logging calls, because a synchronous training loop starves timers. */
  private maybeHeartbeat(step: number): void {
    this.status.step = Math.max(this.status.step ?? step, step);
    if (Date.now() - this.lastBeat >= this.heartbeatMs) this.heartbeat();
  }

  private writeStatus(): void {
    writeJsonAtomic(path.join(this.dir, STATUS_FILE), this.status);
  }

  private writeMeta(): void {
    this.meta.updated_at = nowIso();
    writeJsonAtomic(path.join(this.dir, METADATA_FILE), this.meta);
  }

  private checkStep(what: string, step: unknown, optional = false): void {
    if (optional && (step === undefined || step === null)) return;
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw new TypeError(`${what}: step must be an integer >= 0, got ${JSON.stringify(step)}`);
  }

  /** One line in metrics/metrics.jsonl and one scalar per metric in TensorBoard. */
  logMetrics(metrics: Record<string, number>, step: number): void {
    this.assertOpen('logMetrics');
    this.checkStep('logMetrics', step);
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
    this.meta.last_step = Math.max(this.meta.last_step ?? step, step);
    this.maybeHeartbeat(step);
  }

  /** Text for TensorBoard's Text tab, also kept in metrics/text.jsonl. */
  logText(tag: string, text: string, step: number): void {
    this.assertOpen('logText');
    if (typeof tag !== 'string' || tag === '') throw new TypeError(`logText: tag must be a non-empty string, got ${JSON.stringify(tag)}`);
    if (typeof text !== 'string') throw new TypeError(`logText('${tag}'): text must be a string, got ${typeof text}`);
    this.checkStep('logText', step);
    fs.appendFileSync(path.join(this.dir, TEXT_FILE), `${JSON.stringify({ step, time: nowIso(), segment: this.segment, tag, text })}\n`);
    this.tb?.addText(tag, text, step);
    this.maybeHeartbeat(step);
  }

  /** A histogram in TensorBoard (e.g. weights or gradients). */
  logHistogram(tag: string, values: ArrayLike<number>, step: number): void {
    this.assertOpen('logHistogram');
    this.checkStep('logHistogram', step);
    this.tb?.addHistogram(tag, values, step);
    this.maybeHeartbeat(step);
  }

  /** notes/generation_samples.jsonl and a TensorBoard text entry. */
  logGenerationSample(prompt: string, generated: string, step: number, metrics: Record<string, number> = {}): void {
    this.assertOpen('logGenerationSample');
    if (typeof prompt !== 'string' || typeof generated !== 'string') throw new TypeError(`logGenerationSample: prompt and generated must be strings, got ${typeof prompt} and ${typeof generated}`);
    this.checkStep('logGenerationSample', step);
    const m = Object.fromEntries(Object.entries(metrics ?? {}).map(([k, v]) => [k, typeof v === 'number' ? encodeValue(v) : v]));
    fs.appendFileSync(path.join(this.dir, SAMPLES_FILE), `${JSON.stringify({ step, time: nowIso(), segment: this.segment, prompt, generated, metrics: m })}\n`);
    const fence = (s: string) => s.replace(/```/g, '` ` `');
    const extra = Object.keys(m).length ? `\n\n${Object.entries(m).map(([k, v]) => `${k}: ${v}`).join(', ')}` : '';
    this.tb?.addText('samples/generation', `**Prompt**\n\n\`\`\`\n${fence(prompt)}\n\`\`\`\n\n**Generated**\n\n\`\`\`\n${fence(generated)}\n\`\`\`${extra}`, step);
    this.maybeHeartbeat(step);
  }

  /** An observation: in the metadata and notes/notes.txt as "[Step N] time: text". */
  addNote(text: string, step?: number): void {
    this.assertOpen('addNote');
    this.addEntry('notes', text, step);
  }

  /** A problem met (and, ideally, its solution): in the metadata and notes/issues.txt. */
  addIssue(text: string, step?: number): void {
    this.assertOpen('addIssue');
    this.addEntry('issues', text, step);
  }

  private addIssueInternal(text: string, step: number | null): void {
    try {
      this.addEntry('issues', text, step ?? undefined);
    } catch {
      // nothing more can be recorded
    }
  }

  private addEntry(kind: 'notes' | 'issues', text: string, step?: number): void {
    if (typeof text !== 'string' || text.trim() === '') throw new TypeError(`add${kind === 'notes' ? 'Note' : 'Issue'}: text must be a non-empty string, got ${JSON.stringify(text)}`);
    this.checkStep(`add${kind === 'notes' ? 'Note' : 'Issue'}`, step, true);
    const entry: NoteEntry = { step: step ?? null, time: nowIso(), text };
    appendNoteText(this.dir, kind, entry);
    this.meta[kind].push(entry);
    this.writeMeta();
    if (step !== undefined && this.closedState === null) this.tb?.addText(kind, text, step);
  }

  /** Changes caller-owned metadata fields (description, tags, seed, phase, ...); unknown fields are rejected. */
  updateMetadata(patch: MetadataUpdate): void {
    this.assertOpen('updateMetadata');
    const r = MetadataUpdateSchema.safeParse(patch);
    if (!r.success) throw new ConfigError('updateMetadata', formatProblems(MetadataUpdateSchema, patch, r.error.issues), 'metadata update');
    const { extra, ...rest } = r.data;
    if ('final_loss' in rest) this.finalLossGiven = true;
    Object.assign(this.meta, rest);
    if (extra) this.meta.extra = { ...this.meta.extra, ...extra };
    this.writeMeta();
  }

  /** A copy of the current metadata. */
  get metadata(): ExperimentMetadata {
    return JSON.parse(JSON.stringify(this.meta)) as ExperimentMetadata;
  }

  // ---------------------------------------------------------------------------------------- checkpoints

  /**
   * Writes checkpoints/step_NNNNNN atomically, records the best checkpoint (before any deletion), then
   * applies retention (keep the last N and the best). Returns where it went and what retention removed.
   */
  async saveCheckpoint(args: SaveCheckpointArgs): Promise<{ dir: string; step: number; isBest: boolean; deleted: number[] }> {
    this.assertOpen('saveCheckpoint');
    if (typeof args !== 'object' || args === null) throw new TypeError('saveCheckpoint: expected { step, model, optimizer?, trainerState?, metrics?, isBest? }');
    const { step, model, sidecar, optimizer, trainerState, metrics, isBest } = args;
    this.checkStep('saveCheckpoint', step);
    if (typeof model !== 'object' || model === null || Object.keys(model).length === 0) throw new TypeError('saveCheckpoint: model must be a non-empty object of name -> tensor');
    if (sidecar !== undefined && sidecar !== null && (typeof sidecar !== 'object' || Array.isArray(sidecar))) throw new TypeError('saveCheckpoint: sidecar must be an object of name -> tensor, or null');
    if (trainerState !== undefined && (typeof trainerState !== 'object' || trainerState === null)) throw new TypeError('saveCheckpoint: trainerState must be an object');
    if (trainerState && 'step' in trainerState && trainerState.step !== step) throw new TypeError(`saveCheckpoint: trainerState.step (${JSON.stringify(trainerState.step)}) differs from step (${step})`);
    for (const [k, v] of Object.entries(metrics ?? {})) if (typeof v !== 'number') throw new TypeError(`saveCheckpoint: metrics["${k}"] must be a number, got ${typeof v}`);
    if (isBest !== undefined && typeof isBest !== 'boolean') throw new TypeError(`saveCheckpoint: isBest must be a boolean, got ${JSON.stringify(isBest)}`);

    const value = metrics?.[this.bestMetric];
    const judged = typeof value === 'number' && Number.isFinite(value);
    const prev = this.meta.best_checkpoint;
    const better = judged && (prev === null || prev.value === null || (this.bestMode === 'min' ? value < prev.value : value > prev.value));
    const best = isBest ?? better;
    const modelConfig = args.modelConfig ?? this.modelConfig ?? { reclin_note: 'the model config was not given to the tracker; see run_config.json', model: this.runConfig.model };
    // Everything logged up to this step is on disk before the checkpoint counts as complete, so a kill right
    // after it appears loses no metric or TensorBoard point that the checkpoint covers.
    fs.fsyncSync(this.metricsFd);
    try {
      this.tb?.flush();
    } catch (e) {
      this.addIssueInternal(`TensorBoard events could not be flushed before checkpoint ${step}: ${(e as Error).message} (metrics.jsonl has them; a resume writes them again)`, step);
    }
    const { dir } = writeCheckpoint(this.dir, {
      step,
      model,
      sidecar: sidecar ?? null,
      optimizer: optimizer ?? null,
      trainerState: { ...(trainerState ?? {}), best_so_far: best ? { step, metric: judged ? this.bestMetric : null, value: judged ? value : null } : (prev ?? null) },
      metrics,
      isBest: best,
      bestMetric: judged ? { name: this.bestMetric, mode: this.bestMode, value: value as number } : null,
      modelConfig,
      recursiveConfig: this.recursiveConfig,
      runId: this.id,
      segment: this.segment,
      modelFiles: (this.tokenizerFiles ??= tokenizerModelFiles(this.runConfig.tokenizer)),
    });
    if (best) this.meta.best_checkpoint = { step, metric: judged ? this.bestMetric : null, value: judged ? (value as number) : null, mode: this.bestMode };
    this.meta.last_checkpoint_step = step;
    this.writeMeta(); // the best is on disk before retention deletes anything
    const deleted = applyRetention(this.dir, this.keepLast, this.meta.best_checkpoint?.step ?? null);
    this.heartbeat(Math.max(this.status.step ?? step, step));
    return { dir, step, isBest: best, deleted };
  }

  /** Loads (and verifies) a checkpoint of this run: a step, 'latest' or 'best'. */
  async loadCheckpoint(which: number | 'latest' | 'best' = 'latest'): Promise<LoadedCheckpoint> {
    return readCheckpoint(this.dir, which);
  }

  /** Complete checkpoints of this run, ascending. */
  listCheckpoints(): number[] {
    return listCheckpoints(this.dir).map((c) => c.step);
  }

  /**
   * Supersedes everything logged after `step` (metrics, text, samples, TensorBoard events, later checkpoints):
   * moved to superseded/ and removed from the live logs. ExperimentTracker.resume does this itself.
   */
  truncateMetricsAfter(step: number): void {
    this.assertOpen('truncateMetricsAfter');
    if (!Number.isSafeInteger(step) || step < -1) throw new TypeError(`truncateMetricsAfter: step must be an integer >= -1, got ${JSON.stringify(step)}`);
    fs.fsyncSync(this.metricsFd);
    fs.closeSync(this.metricsFd);
    this.tb?.close();
    const sup = path.join(this.dir, SUPERSEDED_DIR);
    supersedeJsonlAfter(path.join(this.dir, METRICS_FILE), step, path.join(sup, 'metrics.jsonl'), this.segment);
    supersedeJsonlAfter(path.join(this.dir, TEXT_FILE), step, path.join(sup, 'text.jsonl'), this.segment);
    supersedeJsonlAfter(path.join(this.dir, SAMPLES_FILE), step, path.join(sup, 'generation_samples.jsonl'), this.segment);
    supersedeEventsAfter(path.join(this.dir, 'logs'), step, path.join(sup, `logs_segment${this.segment}`));
    supersedeCheckpointsAfter(this.dir, step, this.segment);
    this.metricsFd = fs.openSync(path.join(this.dir, METRICS_FILE), 'a');
    if (this.tb) this.tb = new TensorBoardWriter(path.join(this.dir, 'logs'), { flushIntervalMs: this.flushIntervalMs });
  }

  // ---------------------------------------------------------------------------------------- reports

  /** What the run has produced so far. */
  summary(): RunSummary {
    return summarizeRun(this.dir, this.meta);
  }

  /** Renders the Hugging Face model card, writes README.md (atomically) and returns it. */
  createModelCard(): string {
    return writeModelCard(this.dir, this.meta, this.recursiveConfig, this.runConfig);
  }
}

export interface RunSummary {
  id: string;
  name: string;
  dir: string;
  status: RunState;
  phase: string;
  created_at: string;
  last_step: number | null;
  metrics_logged: number;
  final_metrics: Record<string, number>;
  best_metrics: Record<string, { min: number; minStep: number; max: number; maxStep: number }>;
  best_checkpoint: ExperimentMetadata['best_checkpoint'];
  checkpoints: number[];
  notes: number;
  issues: number;
  segments: number;
}

export function summarizeRun(dir: string, meta: ExperimentMetadata): RunSummary {
  const records: MetricRecord[] = readMetrics(dir);
  const s = metricSummary(records);
  return {
    id: meta.id,
    name: meta.name,
    dir,
    status: meta.status,
    phase: meta.phase,
    created_at: meta.created_at,
    last_step: records.length ? Math.max(...records.map((r) => r.step)) : null,
    metrics_logged: records.length,
    final_metrics: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.last])),
    best_metrics: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { min: v.min, minStep: v.minStep, max: v.max, maxStep: v.maxStep }])),
    best_checkpoint: meta.best_checkpoint,
    checkpoints: listCheckpoints(dir).map((c) => c.step),
    notes: meta.notes.length,
    issues: meta.issues.length,
    segments: meta.segments.length,
  };
}

function readMetaOf(dir: string): ExperimentMetadata {
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

/** Loads a verified checkpoint of any run directory without taking its lock (read-only). */
export function readCheckpoint(runDir: string, which: number | 'latest' | 'best' = 'latest'): LoadedCheckpoint {
  const meta = readJsonIfExists<ExperimentMetadata>(path.join(runDir, METADATA_FILE));
  const { dir } = resolveCheckpoint(runDir, which, meta?.best_checkpoint?.step ?? null);
  return loadCheckpointDir(dir);
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

function writeModelCard(dir: string, meta: ExperimentMetadata, recursiveConfig: RecursiveConfig, runConfig: RunConfig): string {
  const records = readMetrics(dir);
  const card = renderModelCard({ meta, recursiveConfig, runConfig, summary: metricSummary(records), checkpoints: listCheckpoints(dir).map((c) => c.step) });
  writeFileAtomic(path.join(dir, 'README.md'), card);
  return card;
}

/** Writes (or rewrites) README.md of any run directory from its files; returns the card. */
export function createModelCardForRun(dir: string): string {
  const runDir = path.resolve(dir);
  const meta = readRunMetadata(runDir);
  // A live run rewrites README.md itself when it ends: the card is refused while another process holds the lock.
  acquireLock(runDir, meta.id, isStaleElsewhere(runDir));
  try {
    return writeModelCard(runDir, readRunMetadata(runDir), loadRecursiveConfig(path.join(runDir, 'recursive_config.json')), loadRunConfig(path.join(runDir, 'run_config.json')));
  } finally {
    releaseLock(runDir);
  }
}

/** The summary of any run directory (read-only). */
export function summarizeRunDir(dir: string): RunSummary {
  const runDir = path.resolve(dir);
  return summarizeRun(runDir, readRunMetadata(runDir));
}

export { LockError, CHECKPOINTS_DIR };
