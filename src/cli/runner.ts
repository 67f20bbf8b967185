// Drives one training run for the CLI: the Trainer (src/train) writes through the tracker's hooks; this file adds
// the progress display, Ctrl-C handling and the end of the run (status, model card, optional Hub upload).
//
// The trainer is advanced one step at a time (Trainer.run(step) keeps the log/eval/save cadence, which depends
// only on the step), so progress updates every step and a Ctrl-C is noticed after the step in flight: the
// handler only sets a flag; the loop then saves a checkpoint of that step, marks the run `interrupted` and
// returns. A second Ctrl-C exits at once (the tracker still records `interrupted` on exit).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExperimentTracker, loadRecursiveConfig, loadRunConfig, readCheckpoint, type RecursiveConfig, type RunConfig } from '../experiment';
import { withoutUserinfo } from '../experiment/provenance';
import { uploadExperiment } from '../hub';
import { Trainer, checkpointFromLoaded, trackerHooks, type TrainerCheckpoint, type TrainerHooks } from '../train';
import type { Device } from '../tensor';
import { CliError } from './errors';
import { deviceProblem } from '../native/route';
import { Progress } from './progress';
import { BASE_MODEL_DIR, buildModel, checkRun, keepBaseModel, type CheckedRun } from './run-setup';

export interface RunOutcome {
  dir: string;
  status: 'completed' | 'interrupted' | 'failed';
  step: number;
  error?: Error;
}

export interface DriveOptions {
  /** Progress display; default a Progress on stderr. */
  progress?: Progress;
  label?: string;
  /** Hub upload after a completed run. */
  upload?: { repo: string; token?: string; hubUrl?: string; private?: boolean };
  /** Print a line (default: to stdout). */
  say?: (text: string) => void;
}

/** The after_surgery verdict from its evaluation metrics (eval/surgery_*, see src/train/evaluate.ts). */
export function surgeryVerdict(m: Record<string, number>): { pass: boolean; text: string } {
  if (m['eval/surgery_identical'] === undefined) return { pass: false, text: 'after-surgery check: FAIL (no evaluation ran, so nothing was compared)' };
  if (m['eval/surgery_identical'] === 1) return { pass: true, text: `after-surgery check: PASS (chunk logits bit-identical to the base model on ${m['eval/examples']} eval examples)` };
  return {
    pass: false,
    text: `after-surgery check: FAIL (${m['eval/surgery_mismatches']} chunk logits differ from the base model on ${m['eval/examples']} eval examples, max |difference| ${m['eval/surgery_max_abs_diff']}; surgery must not change the model)`,
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Thrown from between evaluation batches when a signal asks the run to stop. */
class EvaluationInterrupted extends Error {}

/** Mean tokens per example over the first few training examples, for tokens/s. */
function tokensPerStep(rc: RunConfig, train: { size: number; get(i: number): { ids: number[] } }): number {
  const n = Math.min(16, train.size);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += train.get(i).ids.length;
  return (sum / Math.max(1, n)) * rc.batch_size;
}

/**
 * A run built and checked before its directory is touched: the model, the trainer (hooks bound later, when the
 * tracker exists) and what the checks found.
 */
interface BuiltRun {
  checked: CheckedRun;
  trainer: Trainer;
  hooks: TrainerHooks;
  onEvalProgress: { fn?: (done: number, total: number) => Promise<void> };
}

function buildRun(rc: RunConfig, rec: RecursiveConfig, checked: CheckedRun): BuiltRun {
  const model = buildModel(rc, checked);
  const hooks: TrainerHooks = {};
  const onEvalProgress: BuiltRun['onEvalProgress'] = {};
  try {
    const trainer = new Trainer({
      model,
      recursive: rec,
      config: rc,
      train: checked.data.train,
      eval: checked.data.eval,
      hooks,
      onEvalProgress: (d, t) => onEvalProgress.fn?.(d, t),
      device: rc.device as Device,
      precision: rc.precision ?? (rc.device === 'cpu' ? 'fp32' : 'bf16'),
    });
    return { checked, trainer, hooks, onEvalProgress };
  } catch (e) {
    model.dispose();
    throw new CliError(`the run could not be set up: ${(e as Error).message}`);
  }
}

function disposeRun(b: BuiltRun): void {
  b.trainer.dispose();
  b.trainer.model.dispose();
}

async function drive(tracker: ExperimentTracker, rc: RunConfig, built: BuiltRun, resumeFrom: number | null, opts: DriveOptions): Promise<RunOutcome> {
  const say = opts.say ?? ((t: string) => process.stdout.write(`${t}\n`));
  const { trainer, checked } = built;
  let interrupted = false;
  let sigints = 0;
  const onSignal = () => {
    sigints++;
    if (sigints > 1) {
      process.stderr.write('\nreclin: second interrupt, exiting without a final checkpoint\n');
      process.exit(130);
    }
    interrupted = true;
    progress.line('interrupt: finishing the current step, then saving a checkpoint (Ctrl-C again to quit at once)');
  };
  const progress = opts.progress ?? new Progress({ total: rc.num_steps, label: opts.label });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A failure outside an optimizer step leaves a consistent trainer: its steps are saved before the run ends.
  const trainStep = trainer.trainStep.bind(trainer);
  let stepInFlight = false;
  trainer.trainStep = () => {
    stepInFlight = true;
    const m = trainStep();
    stepInFlight = false;
    return m;
  };
  let lastLogged: Record<string, number> | undefined;
  let lastCheckpoint = -1;
  try {
    let lastEval: Record<string, number> = {};
    // When the optimizer step ended: the first hook of a step fires right after it (eval and saving follow).
    let trainEnd: number | null = null;
    const base = trackerHooks(tracker);
    Object.assign(built.hooks, {
      ...base,
      metrics: (step: number, m: Record<string, number>) => {
        trainEnd ??= Date.now();
        base.metrics?.(step, m);
        if (Object.keys(m).some((k) => k.startsWith('eval/'))) {
          lastEval = m;
          progress.evaluation(step, m);
        } else lastLogged = m;
      },
      checkpoint: async (step: number, ck: TrainerCheckpoint, info: { isBest: boolean; metrics: Record<string, number> }) => {
        trainEnd ??= Date.now();
        await base.checkpoint?.(step, ck, info);
        lastCheckpoint = step;
      },
    } satisfies TrainerHooks);
    // Long evaluations let signals and the heartbeat through between batches, and say what they are doing.
    built.onEvalProgress.fn = async (done, total) => {
      tracker.setActivity(`evaluating at step ${trainer.step}: ${done} of ${total} batches and generated examples`);
      await yieldToEventLoop();
      if (interrupted) throw new EvaluationInterrupted(`evaluation at step ${trainer.step} stopped by a signal after ${done} of ${total}`);
    };
    const evalSet = { hash: trainer.evalSetHash(), examples: Math.min(rc.data.eval_examples, checked.data.eval.size), seed: rc.data.eval_seed, source: checked.data.eval.name };
    if (resumeFrom !== null) {
      const loaded = readCheckpoint(tracker.dir, resumeFrom);
      const ck = checkpointFromLoaded(loaded);
      trainer.restore(ck);
      for (const m of [ck.model, ck.optimizer]) for (const t of m.values()) t.dispose();
      lastCheckpoint = loaded.step;
      say(`resumed ${tracker.dir} from checkpoint step ${loaded.step}`);
    } else {
      tracker.updateMetadata({ extra: { model_source: checked.source, data: checked.data.description, tokenizer: checked.data.train.tokenizer.describe(), trainable_tensors: trainer.trainableNames().length, memory_estimate_bytes: Math.round(checked.memory.bytes), eval_set: evalSet } });
      say(`run ${tracker.dir}: phase ${rc.phase}, model ${checked.source}, data ${checked.data.description}, ${rc.num_steps} steps x batch ${rc.batch_size}`);
    }
    const evalOnly = trainer.trainableNames().length === 0 || rc.num_steps === 0;
    if (!evalOnly && rc.schedule.warmup_steps >= rc.num_steps) {
      const w = `warning: warmup_steps (${rc.schedule.warmup_steps}) >= num_steps (${rc.num_steps}): the run is all warmup: the learning rate does not reach its peak ${rc.optimizer.lr} before the last step and never decays`;
      say(w);
      if (resumeFrom === null) tracker.addNote(w, 0);
    }
    if (evalOnly) {
      let stopped = false;
      try {
        await trainer.run();
      } catch (e) {
        if (!(e instanceof EvaluationInterrupted)) throw e;
        tracker.addNote(e.message, trainer.step);
        stopped = true;
      }
      tracker.setActivity(null);
      if (rc.phase === 'after_surgery' && !stopped) {
        const v = surgeryVerdict(lastEval);
        say(v.text);
        if (!v.pass) throw new Error(v.text);
      }
    } else {
      const tokens = tokensPerStep(rc, checked.data.train);
      while (trainer.step < rc.num_steps && !interrupted) {
        lastLogged = undefined;
        trainEnd = null;
        const t = Date.now();
        try {
          await trainer.run(trainer.step + 1);
        } catch (e) {
          if (!(e instanceof EvaluationInterrupted)) throw e;
          tracker.addNote(`${e.message}; the checkpoint of step ${trainer.step} has no evaluation of that step`, trainer.step);
        }
        tracker.setActivity(null);
        const end = trainEnd ?? Date.now();
        const tps = end > t ? (tokens * 1000) / (end - t) : undefined;
        if (lastLogged && tps !== undefined) tracker.logMetrics({ 'perf/tokens_per_s': tps }, trainer.step);
        progress.update(trainer.step, tps, lastLogged);
        await yieldToEventLoop(); // lets a pending Ctrl-C through
      }
    }
    progress.done();
    if (interrupted) {
      if (trainer.step > lastCheckpoint) await built.hooks.checkpoint!(trainer.step, trainer.checkpoint(), { isBest: false, metrics: lastLogged ?? {} });
      tracker.addNote(`interrupted by the user at step ${trainer.step}; resume with \`reclin resume ${tracker.dir}\``, trainer.step);
      await tracker.close('interrupted');
      say(`interrupted at step ${trainer.step}; checkpoint saved. Resume with: reclin resume ${tracker.dir}`);
      return { dir: tracker.dir, status: 'interrupted', step: trainer.step };
    }
    await tracker.close('completed');
    const best = tracker.metadata.best_checkpoint;
    say(`completed ${tracker.dir} at step ${trainer.step}${best ? `; best checkpoint step ${best.step}${best.metric ? ` (${best.metric} ${best.value})` : ''}` : ''}`);
  } catch (e) {
    progress.done();
    const err = e instanceof Error ? e : new Error(String(e));
    if (!tracker.closed) {
      // Steps trained since the last checkpoint are kept: the trainer is consistent unless a step was cut short.
      if (!stepInFlight && trainer.step > lastCheckpoint && trainer.step > 0) {
        try {
          await built.hooks.checkpoint!(trainer.step, trainer.checkpoint(), { isBest: false, metrics: lastLogged ?? {} });
          tracker.addIssue(`the run failed after step ${trainer.step} (${err.message}); the steps trained so far were saved as checkpoint ${trainer.step}; \`reclin resume ${tracker.dir}\` continues from it`, trainer.step);
        } catch (e2) {
          tracker.addIssue(`the run failed after step ${trainer.step} (${err.message}) and its state could not be saved: ${(e2 as Error).message}`, trainer.step);
        }
      }
      await tracker.close('failed', err);
    }
    return { dir: tracker.dir, status: 'failed', step: trainer.step, error: err };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    disposeRun(built);
  }
  if (opts.upload) {
    const r = await uploadExperiment(tracker.dir, { ...opts.upload, onPhase: (p) => say(`upload: ${p}...`) });
    say(`uploaded to ${r.hubUrl}/${r.repo}${r.commit ? ` (commit ${r.commit.oid})` : ''}`);
  }
  return { dir: tracker.dir, status: 'completed', step: rc.num_steps };
}

export interface StartOptions extends DriveOptions {
  name: string;
  parentDir: string;
  description: string;
  runConfig: RunConfig;
  recursiveConfig: RecursiveConfig;
  recursiveConfigPath: string | null;
  runConfigPath: string | null;
  /** The command line to record (with secrets already removed). */
  command: string[];
  ifExists?: 'error' | 'suffix';
}

/** Checks and builds everything, then creates the run directory and trains. */
export async function startRun(o: StartOptions): Promise<RunOutcome> {
  const existing = path.join(o.parentDir, o.name);
  if (o.ifExists !== 'suffix' && fs.existsSync(existing)) {
    throw new CliError(`--experiment-name: ${existing} already exists (a run never reuses another run's directory); pick another name, or continue that run with \`reclin resume ${existing}\``);
  }
  const checked = checkRun(o.runConfig, o.recursiveConfig);
  const built = buildRun(o.runConfig, o.recursiveConfig, checked);
  let tracker: ExperimentTracker;
  try {
    tracker = await ExperimentTracker.create({
      name: o.name,
      dir: o.parentDir,
      description: o.description,
      recursiveConfig: o.recursiveConfig,
      runConfig: o.runConfig,
      // The checkpoints declare the model's own architecture (a base model's config.json, not the preset).
      modelConfig: checked.modelConfig as unknown as Record<string, unknown>,
      configPaths: { recursive: o.recursiveConfigPath, run: o.runConfigPath },
      command: o.command,
      ifExists: o.ifExists,
    });
  } catch (e) {
    disposeRun(built);
    throw e;
  }
  try {
    keepBaseModel(tracker.dir, checked);
    if (o.upload) tracker.updateMetadata({ extra: { upload: { repo: o.upload.repo, hub_url: o.upload.hubUrl ? withoutUserinfo(o.upload.hubUrl) : null, private: !!o.upload.private } } });
  } catch (e) {
    disposeRun(built);
    await tracker.close('failed', e);
    throw e;
  }
  return drive(tracker, tracker.runConfig, built, null, o);
}

/** Continues a run in its own directory from its newest complete checkpoint (or from the start if it has none). */
export async function resumeRun(dir: string, o: DriveOptions & { command: string[] }): Promise<RunOutcome> {
  const runDir = path.resolve(dir);
  let rc: RunConfig;
  let rec: RecursiveConfig;
  try {
    rc = loadRunConfig(path.join(runDir, 'run_config.json'));
    rec = loadRecursiveConfig(path.join(runDir, 'recursive_config.json'));
  } catch (e) {
    throw new CliError(`${runDir}: ${(e as Error).message}`);
  }
  // A run recorded on a GPU resumes only where that GPU can run (its checkpoints load on any device).
  const deviceWhy = deviceProblem(rc.device);
  if (deviceWhy) throw new CliError(`${runDir}: the run trains on ${rc.device}, which cannot train here: ${deviceWhy}`);
  // The run's own copy of its base model; runs made before copies were kept fall back to --model-path.
  const checked = checkRun(rc, rec, path.join(runDir, BASE_MODEL_DIR));
  const built = buildRun(rc, rec, checked);
  let tracker: ExperimentTracker;
  try {
    tracker = await ExperimentTracker.resume(runDir, { command: o.command, modelConfig: checked.modelConfig as unknown as Record<string, unknown> });
  } catch (e) {
    disposeRun(built);
    throw e;
  }
  const steps = tracker.listCheckpoints();
  return drive(tracker, tracker.runConfig, built, steps.length ? steps[steps.length - 1] : null, o);
}
