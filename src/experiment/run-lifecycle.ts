// The life of a run directory: claiming a fresh one (create), taking an existing one up again (resume), and
// recording the end in the metadata. Each returns what a tracker needs to run it; the tracker (tracker.ts)
// holds the lock from here until it closes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../format/atomic';
import { cleanupIncompleteCheckpoints, listCheckpoints } from './checkpoint';
import { loadRecursiveConfig, loadRunConfig, parseRecursiveConfig, parseRunConfig, type RecursiveConfig, type RunConfig } from './config';
import { isStaleElsewhere } from './heartbeat';
import { acquireLock, releaseLock } from './lock';
import { encodeValue, metricSummary, readJsonl, readMetrics, repairTornTail, validateMetricsFile, METRICS_FILE, SAMPLES_FILE, SUPERSEDED_DIR, TEXT_FILE, type MetricRecord } from './metrics';
import { mergeInbox } from './notes';
import { captureCommand, captureEnv, captureHost, captureRuntime } from './provenance';
import { supersedeAfter } from './run-checkpoints';
import { captureGitOfRun, newSegment, nowIso, readMetaOf, runIdFor, type ExperimentMetadata } from './run-metadata';
import { lastSignOfLife, METADATA_FILE, type RunState } from './status';
import { parseCreateOptions, parseResumeOptions, type CreateTrackerOptions, type ResumeTrackerOptions } from './tracker-options';

export class ExperimentExistsError extends Error {
  readonly dir: string;
  constructor(dir: string) {
    super(`${dir} already exists: a run never reuses another run's directory. Resume it (ExperimentTracker.resume / reclin resume), pick another name, or pass ifExists: 'suffix'.`);
    this.name = 'ExperimentExistsError';
    this.dir = dir;
  }
}

/** A run directory claimed by this process (its lock held), with what its tracker needs. */
export interface OpenedRun {
  dir: string;
  meta: ExperimentMetadata;
  recursiveConfig: RecursiveConfig;
  runConfig: RunConfig;
  /** 0 for the first launch, +1 per resume. */
  segment: number;
  heartbeatMs: number;
  tensorboard: boolean;
  flushIntervalMs?: number;
  modelConfig: Record<string, unknown> | null;
  keepLast: number | null;
  bestMetric: string;
  bestMode: 'min' | 'max';
}

const RUN_SUBDIRS = ['checkpoints', 'logs', 'metrics', 'notes'];

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

/** Validates everything, then claims a fresh run directory with its configs, metadata and provenance. */
export function createRun(input: CreateTrackerOptions): OpenedRun {
  const opts = parseCreateOptions(input);
  // Configs next: a bad config fails before anything is written.
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
    meta = writeNewRun(tmp, { opts, name, id, recursiveConfig, runConfig });
    for (const sub of RUN_SUBDIRS) fs.mkdirSync(path.join(tmp, sub));
    // rename(2) would replace an empty directory made meanwhile: refuse instead.
    if (fs.existsSync(dir)) throw new ExperimentExistsError(dir);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  return {
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
  };
}

/** The files of a new run (configs, metadata, git diff) in `dir`; returns the metadata. */
function writeNewRun(dir: string, a: { opts: CreateTrackerOptions; name: string; id: string; recursiveConfig: RecursiveConfig; runConfig: RunConfig }): ExperimentMetadata {
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
    segments: [newSegment(0, created, null, command, git)],
    extra: {},
  };
  writeJsonAtomic(path.join(dir, METADATA_FILE), meta);
  return meta;
}

/**
 * Takes an existing run up again as a new segment: refused while another live process writes it. Records logged
 * after the restart step are superseded (see ResumeTrackerOptions.fromStep). Returns with the lock held.
 */
export function resumeRun(dir: string, input: ResumeTrackerOptions): OpenedRun {
  const runDir = path.resolve(dir);
  const metaFile = path.join(runDir, METADATA_FILE);
  if (!fs.existsSync(metaFile)) throw new Error(`${runDir}: not an experiment directory (no ${METADATA_FILE})`);
  const opts = parseResumeOptions(input);
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
    const segment = meta.segments?.length ?? 1;
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
      supersedeAfter(runDir, fromStep, segment);
      if (meta.best_checkpoint && meta.best_checkpoint.step > fromStep) meta.best_checkpoint = null;
      if (meta.last_step !== null && meta.last_step > fromStep) meta.last_step = fromStep >= 0 ? fromStep : null;
    }
    const now = nowIso();
    meta.segments = [...(meta.segments ?? []), newSegment(segment, now, fromStep, captureCommand(opts.command), captureGitOfRun().info)];
    meta.status = 'running';
    meta.ended_at = null;
    meta.updated_at = now;
    meta.last_checkpoint_step = listCheckpoints(runDir).at(-1)?.step ?? null;
    writeJsonAtomic(metaFile, meta);
    for (const sub of RUN_SUBDIRS) fs.mkdirSync(path.join(runDir, sub), { recursive: true });
    const lastCheckpoint = listCheckpoints(runDir).at(-1);
    return {
      dir: runDir,
      meta,
      recursiveConfig,
      runConfig,
      segment,
      heartbeatMs: opts.heartbeatMs ?? 10_000,
      tensorboard: opts.tensorboard ?? true,
      flushIntervalMs: opts.flushIntervalMs,
      modelConfig:
        opts.modelConfig ?? (lastCheckpoint ? (readJsonIfExists<Record<string, unknown>>(path.join(lastCheckpoint.dir, 'model', 'config.json')) ?? null) : modelConfigFromRunConfig(runConfig)),
      keepLast: runConfig.checkpoint.keep_last,
      bestMetric: runConfig.checkpoint.best_metric,
      bestMode: runConfig.checkpoint.best_mode,
    };
  } catch (e) {
    releaseLock(runDir);
    throw e;
  }
}

function pickFinalLoss(last: Record<string, number>): number | null {
  for (const k of ['eval/loss', 'train/loss', 'train/loss/total', 'loss']) if (Number.isFinite(last[k])) return last[k];
  const any = Object.keys(last).find((k) => /loss/.test(k) && Number.isFinite(last[k]));
  return any ? last[any] : null;
}

/**
 * The end of a segment in the metadata (not yet written): final metrics from the logs, final loss unless the
 * caller gave one, status, end time and the run's duration over all segments. `report` records a problem.
 */
export function recordEnd(dir: string, meta: ExperimentMetadata, status: RunState, at: string, finalLossGiven: boolean, report: (text: string) => void): void {
  let records: MetricRecord[] = [];
  try {
    records = readMetrics(dir);
  } catch (e) {
    // The final status must still be written; the damaged line is reported, not fatal here.
    report(`final metrics could not be read: ${(e as Error).message}`);
  }
  const last = Object.fromEntries(Object.entries(metricSummary(records)).map(([k, s]) => [k, s.last]));
  meta.final_metrics = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, encodeValue(v)]));
  if (!finalLossGiven) meta.final_loss = pickFinalLoss(last);
  meta.status = status;
  meta.ended_at = at;
  const seg = meta.segments.at(-1);
  if (seg) {
    seg.ended_at = at;
    seg.status = status;
  }
  meta.duration_s = Math.round(meta.segments.reduce((s, g) => s + (Date.parse(g.ended_at ?? at) - Date.parse(g.started_at)), 0) / 10) / 100;
}
