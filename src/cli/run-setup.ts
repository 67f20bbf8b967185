// What a run is built from, given its validated run config: the data sources and the model (from scratch, or
// the base model a phase starts from). Shared by run, resume, reproduce and demo, so they build identically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonlSource, TaskSource, TextFileSource, makeTask, mixSeed, type Example, type ExampleSource, type TaskSpec } from '../data';
import { CheckpointError, listCheckpoints, verifyCheckpoint, type RunConfig } from '../experiment';
import { resolveCheckpoint } from '../experiment/checkpoint';
import { KimiLinearLM, loadModel, loadModelConfig } from '../nn';
import { CliError } from './errors';

const SYNTHETIC = /^synthetic:(addition|sorting|reverse)(?::(\d+))?$/;
const TASK_DEFAULT_SIZE = { addition: 3, sorting: 8, reverse: 8 } as const;

/** Examples [from, to) of another source: a held-out split of a file. */
class SliceSource implements ExampleSource {
  readonly name: string;
  readonly size: number;
  constructor(
    private readonly src: ExampleSource,
    private readonly from: number,
    to: number,
  ) {
    this.size = to - from;
    this.name = `${src.name}[${from}:${to}]`;
  }
  get(index: number): Example {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`${this.name}: index must be an integer in [0, ${this.size}), got ${index}`);
    return this.src.get(this.from + index);
  }
}

function taskOf(spec: string): TaskSpec | undefined {
  const m = SYNTHETIC.exec(spec);
  if (!m) return undefined;
  const name = m[1] as keyof typeof TASK_DEFAULT_SIZE;
  const n = m[2] === undefined ? TASK_DEFAULT_SIZE[name] : Number(m[2]);
  return name === 'addition' ? { name, digits: n } : { name, length: n };
}

function fileSource(file: string, seqLen: number): ExampleSource {
  return file.endsWith('.jsonl') ? new JsonlSource(file, seqLen) : new TextFileSource(file, seqLen);
}

/**
 * Train and eval sources. Synthetic tasks evaluate on a fixed set drawn with a different seed; a file without
 * --eval-data-path keeps its last 10% (at least one example) out of training for evaluation.
 */
export function buildSources(rc: RunConfig): { train: ExampleSource; eval: ExampleSource; description: string } {
  const spec = rc.data.train;
  if (spec.startsWith('synthetic:') && !SYNTHETIC.test(spec)) {
    throw new CliError(`--data: expected synthetic:addition[:digits], synthetic:sorting[:length] or synthetic:reverse[:length], got ${JSON.stringify(spec)}`);
  }
  const task = taskOf(spec);
  const evalSize = rc.data.eval_examples;
  if (task) {
    const t = makeTask(task);
    const train = new TaskSource(t, rc.seed);
    // The eval set depends on the task and eval_seed only (mixed so that it is not train seed eval_seed's stream).
    const evalSrc = rc.data.eval ? fileSource(rc.data.eval, rc.data.seq_len) : new TaskSource(t, mixSeed(rc.data.eval_seed, 0xe4a1), evalSize);
    return { train, eval: evalSrc, description: `${t.name} (train seed ${rc.seed}${rc.data.eval ? `, eval ${rc.data.eval}` : `, ${evalSize} eval examples of eval seed ${rc.data.eval_seed}`})` };
  }
  const all = fileSource(spec, rc.data.seq_len);
  if (rc.data.eval) return { train: all, eval: fileSource(rc.data.eval, rc.data.seq_len), description: `${spec} (eval ${rc.data.eval})` };
  if (all.size < 2) throw new CliError(`--data-path: ${spec} has ${all.size} example(s); a held-out split needs at least 2 (or pass --eval-data-path)`);
  const held = Math.max(1, Math.floor(all.size / 10));
  return {
    train: new SliceSource(all, 0, all.size - held),
    eval: new SliceSource(all, all.size - held, all.size),
    description: `${spec} (${all.size - held} train / ${held} held-out eval examples)`,
  };
}

/**
 * The model directory a --model-path names: a model directory (config.json + model.safetensors), or an
 * experiment directory, whose best checkpoint's model is used (else its newest), verified against its checksums.
 */
export function resolveModelDir(p: string): { dir: string; fromExperiment: string | null; step: number | null } {
  const abs = path.resolve(p);
  if (fs.existsSync(path.join(abs, 'experiment_metadata.json'))) {
    if (listCheckpoints(abs).length === 0) throw new CliError(`--model-path: experiment ${p} has no complete checkpoint`);
    const meta = JSON.parse(fs.readFileSync(path.join(abs, 'experiment_metadata.json'), 'utf8'));
    let ck: { step: number; dir: string };
    try {
      ck = resolveCheckpoint(abs, 'best', meta.best_checkpoint?.step ?? null);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      ck = resolveCheckpoint(abs, 'latest', null);
    }
    try {
      verifyCheckpoint(ck.dir);
    } catch (e) {
      throw new CliError(`--model-path: ${(e as Error).message}`);
    }
    return { dir: path.join(ck.dir, 'model'), fromExperiment: abs, step: ck.step };
  }
  if (fs.existsSync(path.join(abs, 'config.json')) && fs.existsSync(path.join(abs, 'model.safetensors'))) return { dir: abs, fromExperiment: null, step: null };
  throw new CliError(`--model-path: ${p} is neither a model directory (config.json + model.safetensors) nor an experiment directory (experiment_metadata.json)`);
}

/** The model a run starts from: the base model of --model-path, or a fresh one from the architecture config. */
export function buildModel(rc: RunConfig): { model: KimiLinearLM; source: string } {
  if (rc.model.path !== null) {
    const m = resolveModelDir(rc.model.path);
    return { model: loadModel(m.dir, { seed: rc.seed }), source: m.fromExperiment ? `${m.fromExperiment} (checkpoint step ${m.step})` : m.dir };
  }
  const cfg = loadModelConfig(rc.model.config ?? 'tiny');
  return { model: new KimiLinearLM(cfg, { seed: rc.seed }), source: `${rc.model.config ?? 'tiny'} (from scratch, seed ${rc.seed})` };
}
