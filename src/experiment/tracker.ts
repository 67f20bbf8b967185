// ExperimentTracker: the record every run leaves behind (layout in docs/design/architecture.md, "The experiment directory").
// One tracker = one writer: it claims a fresh directory (or resumes one), holds its lock, keeps status.json
// alive with a heartbeat, and writes every file crash-safely (JSON: temp + fsync + rename; logs: append-only
// lines; checkpoints: a temporary folder renamed when complete).
//
// This class is the facade; each job lives in its own file:
//   tracker-options.ts  the options of create/resume (zod)       run-lifecycle.ts  create, resume, the end record
//   heartbeat.ts        status.json and its heartbeat            run-log.ts        metrics, text, samples, notes, TensorBoard
//   run-checkpoints.ts  best, retention, supersession            run-card.ts       summary and model card
//   run-metadata.ts     experiment_metadata.json                 lock.ts           the single-writer lock
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINTS_DIR, listCheckpoints, type LoadedCheckpoint } from './checkpoint';
import { ConfigError, formatProblems, type RecursiveConfig, type RunConfig } from './config';
import { Heartbeat } from './heartbeat';
import { releaseLock, LockError } from './lock';
import { mergeInbox, INBOX_FILE, type NoteEntry, type NoteKind } from './notes';
import { summarizeRun, writeModelCard, type RunSummary } from './run-card';
import { checkSaveArgs, readCheckpoint, supersedeAfter, writeRunCheckpoint, type CheckpointPolicy, type SaveCheckpointArgs } from './run-checkpoints';
import { createRun, recordEnd, resumeRun, type OpenedRun } from './run-lifecycle';
import { RunLog } from './run-log';
import { MetadataUpdateSchema, RunMetadata, nowIso, type ExperimentMetadata, type MetadataUpdate } from './run-metadata';
import type { RunState } from './status';
import { tokenizerModelFiles, type ModelDirFile } from '../tokenizer/files';
import { checkStep, type CreateTrackerOptions, type ResumeTrackerOptions } from './tracker-options';

export type { NoteEntry, RunSummary, SaveCheckpointArgs, ExperimentMetadata, MetadataUpdate, CreateTrackerOptions, ResumeTrackerOptions };
export type { SegmentEntry } from './run-metadata';
export { ExperimentExistsError } from './run-lifecycle';
export { readRunMetadata } from './run-metadata';
export { readCheckpoint } from './run-checkpoints';
export { addNoteToRun } from './run-log';
export { summarizeRun, summarizeRunDir, createModelCardForRun } from './run-card';

export class ExperimentTracker {
  readonly dir: string;
  readonly id: string;
  readonly name: string;
  readonly recursiveConfig: RecursiveConfig;
  readonly runConfig: RunConfig;
  /** 0 for the first launch, +1 per resume. */
  readonly segment: number;

  private readonly meta: RunMetadata;
  private readonly log: RunLog;
  private readonly heartbeat: Heartbeat;
  private readonly policy: CheckpointPolicy;
  private readonly modelConfig: Record<string, unknown> | null;
  private closedState: RunState | null = null;
  private readonly onExit: () => void;
  /** final_loss given by the caller (updateMetadata) in this segment; otherwise it is taken from the logs. */
  private finalLossGiven = false;
  private tokenizerFiles: ModelDirFile[] | null = null;

  private constructor(run: OpenedRun) {
    this.dir = run.dir;
    this.id = run.meta.id;
    this.name = run.meta.name;
    this.recursiveConfig = run.recursiveConfig;
    this.runConfig = run.runConfig;
    this.segment = run.segment;
    this.meta = new RunMetadata(run.dir, run.meta);
    this.modelConfig = run.modelConfig;
    this.policy = { keepLast: run.keepLast, bestMetric: run.bestMetric, bestMode: run.bestMode };
    this.log = new RunLog(this.dir, this.segment, run.tensorboard, run.flushIntervalMs);
    this.heartbeat = new Heartbeat(this.dir, { runId: this.id, segment: this.segment, step: run.meta.last_step }, run.heartbeatMs, {
      // status.json never claims a step whose metrics are not on disk.
      sync: () => this.log.syncMetrics(),
      after: () => {
        try {
          this.log.mergeNotesInbox(this.meta);
        } catch (e) {
          process.emitWarning(`reclin: could not merge ${path.join(this.dir, INBOX_FILE)} (the entries stay there): ${(e as Error).message}`);
        }
      },
    });
    // A process that exits without close() (an uncaught error, process.exit) still leaves a truthful status.
    this.onExit = () => this.closeOnExit();
    process.on('exit', this.onExit);
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** Validates everything, claims a fresh run directory, records provenance and starts the run. */
  static async create(opts: CreateTrackerOptions): Promise<ExperimentTracker> {
    const run = createRun(opts);
    try {
      return new ExperimentTracker(run);
    } catch (e) {
      releaseLock(run.dir);
      throw e;
    }
  }

  /**
   * Continues an existing run in its own directory (a new segment). Refused while another live process
   * writes it. Records logged after the restart step are superseded (see ResumeTrackerOptions.fromStep).
   */
  static async resume(dir: string, opts: ResumeTrackerOptions = {}): Promise<ExperimentTracker> {
    const run = resumeRun(dir, opts);
    try {
      const tracker = new ExperimentTracker(run);
      tracker.log.relogMissingScalars((text) => tracker.addIssueInternal(text, null));
      return tracker;
    } catch (e) {
      releaseLock(run.dir);
      throw e;
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
    this.heartbeat.stop();
    this.log.close();
    const now = nowIso();
    mergeInbox(this.dir, this.meta.meta); // saved with the end record below
    recordEnd(this.dir, this.meta.meta, status, now, this.finalLossGiven, (text) => this.addIssueInternal(text, null));
    this.meta.save();
    this.heartbeat.end(status, now, error);
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

  private assertOpen(what: string): void {
    if (this.closedState !== null) throw new Error(`${what}: the tracker of ${this.dir} is closed (${this.closedState})`);
  }

  // ---------------------------------------------------------------------------------------- logging

  /**
   * Says in status.json what the run is doing during long work between steps (null when done), and beats the
   * heartbeat at most once per heartbeat period, so a long evaluation never looks like a dead run.
   */
  setActivity(text: string | null): void {
    this.assertOpen('setActivity');
    if (text !== null && typeof text !== 'string') throw new TypeError(`setActivity: text must be a string or null, got ${JSON.stringify(text)}`);
    this.heartbeat.setActivity(text);
  }

  /** One line in metrics/metrics.jsonl and one scalar per metric in TensorBoard. */
  logMetrics(metrics: Record<string, number>, step: number): void {
    this.assertOpen('logMetrics');
    checkStep('logMetrics', step);
    this.log.metrics(metrics, step);
    this.meta.meta.last_step = Math.max(this.meta.meta.last_step ?? step, step);
    this.heartbeat.maybeBeat(step);
  }

  /** Text for TensorBoard's Text tab, also kept in metrics/text.jsonl. */
  logText(tag: string, text: string, step: number): void {
    this.assertOpen('logText');
    if (typeof tag !== 'string' || tag === '') throw new TypeError(`logText: tag must be a non-empty string, got ${JSON.stringify(tag)}`);
    if (typeof text !== 'string') throw new TypeError(`logText('${tag}'): text must be a string, got ${typeof text}`);
    checkStep('logText', step);
    this.log.text(tag, text, step);
    this.heartbeat.maybeBeat(step);
  }

  /** A histogram in TensorBoard (e.g. weights or gradients). */
  logHistogram(tag: string, values: ArrayLike<number>, step: number): void {
    this.assertOpen('logHistogram');
    checkStep('logHistogram', step);
    this.log.histogram(tag, values, step);
    this.heartbeat.maybeBeat(step);
  }

  /** notes/generation_samples.jsonl and a TensorBoard text entry. */
  logGenerationSample(prompt: string, generated: string, step: number, metrics: Record<string, number> = {}): void {
    this.assertOpen('logGenerationSample');
    if (typeof prompt !== 'string' || typeof generated !== 'string') throw new TypeError(`logGenerationSample: prompt and generated must be strings, got ${typeof prompt} and ${typeof generated}`);
    checkStep('logGenerationSample', step);
    this.log.generationSample(prompt, generated, step, metrics);
    this.heartbeat.maybeBeat(step);
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

  private addEntry(kind: NoteKind, text: string, step?: number): void {
    const what = kind === 'notes' ? 'addNote' : 'addIssue';
    if (typeof text !== 'string' || text.trim() === '') throw new TypeError(`${what}: text must be a non-empty string, got ${JSON.stringify(text)}`);
    checkStep(what, step, true);
    this.log.entry(this.meta, kind, text, step, this.closedState === null);
  }

  /** Changes caller-owned metadata fields (description, tags, seed, phase, ...); unknown fields are rejected. */
  updateMetadata(patch: MetadataUpdate): void {
    this.assertOpen('updateMetadata');
    const r = MetadataUpdateSchema.safeParse(patch);
    if (!r.success) throw new ConfigError('updateMetadata', formatProblems(MetadataUpdateSchema, patch, r.error.issues), 'metadata update');
    const { extra, ...rest } = r.data;
    if ('final_loss' in rest) this.finalLossGiven = true;
    Object.assign(this.meta.meta, rest);
    if (extra) this.meta.meta.extra = { ...this.meta.meta.extra, ...extra };
    this.meta.save();
  }

  /** A copy of the current metadata. */
  get metadata(): ExperimentMetadata {
    return JSON.parse(JSON.stringify(this.meta.meta)) as ExperimentMetadata;
  }

  // ---------------------------------------------------------------------------------------- checkpoints

  /**
   * Writes checkpoints/step_NNNNNN atomically, records the best checkpoint (before any deletion), then
   * applies retention (keep the last N and the best). Returns where it went and what retention removed.
   */
  async saveCheckpoint(args: SaveCheckpointArgs): Promise<{ dir: string; step: number; isBest: boolean; deleted: number[] }> {
    this.assertOpen('saveCheckpoint');
    checkSaveArgs(args);
    const { step } = args;
    const modelConfig = args.modelConfig ?? this.modelConfig ?? { reclin_note: 'the model config was not given to the tracker; see run_config.json', model: this.runConfig.model };
    // Everything logged up to this step is on disk before the checkpoint counts as complete, so a kill right
    // after it appears loses no metric or TensorBoard point that the checkpoint covers.
    this.log.syncMetrics();
    try {
      this.log.flushEvents();
    } catch (e) {
      this.addIssueInternal(`TensorBoard events could not be flushed before checkpoint ${step}: ${(e as Error).message} (metrics.jsonl has them; a resume writes them again)`, step);
    }
    const saved = writeRunCheckpoint(this.meta, this.policy, {
      modelConfig,
      recursiveConfig: this.recursiveConfig,
      runId: this.id,
      segment: this.segment,
      // The run's tokenizer files, read (and hash-checked) once, copied into every checkpoint's model/.
      modelFiles: (this.tokenizerFiles ??= tokenizerModelFiles(this.runConfig.tokenizer)),
    }, args);
    this.heartbeat.beat(Math.max(this.heartbeat.step ?? step, step));
    return saved;
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
    this.log.reopenAround(() => supersedeAfter(this.dir, step, this.segment));
  }

  // ---------------------------------------------------------------------------------------- reports

  /** What the run has produced so far. */
  summary(): RunSummary {
    return summarizeRun(this.dir, this.meta.meta);
  }

  /** Renders the Hugging Face model card, writes README.md (atomically) and returns it. */
  createModelCard(): string {
    return writeModelCard(this.dir, this.meta.meta, this.recursiveConfig, this.runConfig);
  }
}

export { LockError, CHECKPOINTS_DIR };
