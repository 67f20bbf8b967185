// What a run is built from, given its validated run config: the data sources and the model (from scratch, or
// the base model a phase starts from). Shared by run, resume, reproduce and demo, so they build identically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonlSource, TaskSource, TextFileSource, hasTokenizerFiles, loadTokenizer, makeTask, mixSeed, type Example, type ExampleSource, type RoleOverrides, type TaskSpec, type Tokenizer } from '../data';
import { CheckpointError, listCheckpoints, loadRunConfig, verifyCheckpoint, type RecursiveConfig, type RunConfig } from '../experiment';
import { writeJsonAtomic } from '../format';
import { tempPathFor } from '../format/atomic';
import { resolveCheckpoint } from '../experiment/checkpoint';
import { KimiLinearLM, declaredSpecialIds, loadModel, loadModelConfig, weightFiles, type ModelConfig } from '../nn';
import { tokenizerProblems } from '../tokenizer';
import { CliError } from './errors';
import { checkBestMetric, checkExamplesFit, checkMemory, checkModelAgainstRun, checkSeqLen, reconcileSpecialIds, type MemoryEstimate } from './run-check';

const SYNTHETIC = /^synthetic:(addition|sorting|reverse)(?::(\d+))?$/;
const TASK_DEFAULT_SIZE = { addition: 3, sorting: 8, reverse: 8 } as const;

/** Examples [from, to) of another source: a held-out split of a file. */
class SliceSource implements ExampleSource {
  readonly name: string;
  readonly size: number;
  readonly tokenizer: Tokenizer;
  constructor(
    private readonly src: ExampleSource,
    private readonly from: number,
    to: number,
  ) {
    this.size = to - from;
    this.name = `${src.name}[${from}:${to}]`;
    this.tokenizer = src.tokenizer;
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

function fileSource(file: string, seqLen: number, tok: Tokenizer): ExampleSource {
  return file.endsWith('.jsonl') ? new JsonlSource(file, seqLen, tok) : new TextFileSource(file, seqLen, tok);
}

/** The run's tokenizer (run config `tokenizer`), its recorded file hashes checked when present. */
export function buildTokenizer(rc: RunConfig): Tokenizer {
  try {
    return loadTokenizer(rc.tokenizer.path, { special: rc.tokenizer.special as RoleOverrides, expectFiles: rc.tokenizer.files });
  } catch (e) {
    throw new CliError(`--tokenizer: ${(e as Error).message}`);
  }
}

/**
 * The tokenizer a run starting from --model-path gets when it names none: the base experiment's (as its
 * run_config.json records it, hashes included; the copy in its checkpoint when that file is gone), else the tokenizer files of a model directory (as a Hub
 * checkpoint ships them), else null (the byte tokenizer).
 */
export function inheritedTokenizer(modelPath: string | null): RunConfig['tokenizer'] | null {
  if (modelPath === null) return null;
  const abs = path.resolve(modelPath);
  const rcFile = path.join(abs, 'run_config.json');
  if (fs.existsSync(path.join(abs, 'experiment_metadata.json')) && fs.existsSync(rcFile)) {
    const t = loadRunConfig(rcFile).tokenizer;
    if (t.path === null) return null;
    // The tokenizer moved or was deleted since: the checkpoint's model directory carries a copy (with the run's
    // role overrides written into its tokenizer_config.json).
    if (!fs.existsSync(t.path)) {
      const dir = resolveModelDir(abs).dir;
      if (hasTokenizerFiles(dir)) return { path: dir, files: null, special: {} };
    }
    return t;
  }
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory() && hasTokenizerFiles(abs)) return { path: abs, files: null, special: {} };
  return null;
}

/**
 * Train and eval sources. Synthetic tasks evaluate on a fixed set drawn with a different seed; a file without
 * --eval-data-path keeps its last 10% (at least one example) out of training for evaluation.
 */
export function buildSources(rc: RunConfig, tok: Tokenizer = buildTokenizer(rc)): { train: ExampleSource; eval: ExampleSource; description: string } {
  const spec = rc.data.train;
  if (spec.startsWith('synthetic:') && !SYNTHETIC.test(spec)) {
    throw new CliError(`--data: expected synthetic:addition[:digits], synthetic:sorting[:length] or synthetic:reverse[:length], got ${JSON.stringify(spec)}`);
  }
  const task = taskOf(spec);
  const evalSize = rc.data.eval_examples;
  if (task) {
    const t = makeTask(task);
    const train = new TaskSource(t, rc.seed, Infinity, tok);
    // The eval set depends on the task and eval_seed only (mixed so that it is not train seed eval_seed's stream).
    const evalSrc = rc.data.eval ? fileSource(rc.data.eval, rc.data.seq_len, tok) : new TaskSource(t, mixSeed(rc.data.eval_seed, 0xe4a1), evalSize, tok);
    return { train, eval: evalSrc, description: `${t.name} (train seed ${rc.seed}${rc.data.eval ? `, eval ${rc.data.eval}` : `, ${evalSize} eval examples of eval seed ${rc.data.eval_seed}`})` };
  }
  const all = fileSource(spec, rc.data.seq_len, tok);
  if (rc.data.eval) return { train: all, eval: fileSource(rc.data.eval, rc.data.seq_len, tok), description: `${spec} (eval ${rc.data.eval})` };
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
    let meta: { best_checkpoint?: { step?: number } | null };
    const metaFile = path.join(abs, 'experiment_metadata.json');
    try {
      meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    } catch (e) {
      throw new CliError(`--model-path: ${metaFile} is not readable JSON (${(e as Error).message})`);
    }
    let ck: { step: number; dir: string };
    try {
      ck = resolveCheckpoint(abs, 'best', meta?.best_checkpoint?.step ?? null);
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
  if (fs.existsSync(path.join(abs, 'config.json')) && ['model.safetensors', 'model.safetensors.index.json'].some((f) => fs.existsSync(path.join(abs, f)))) return { dir: abs, fromExperiment: null, step: null };
  throw new CliError(`--model-path: ${p} is neither a model directory (config.json + model.safetensors or its shards' index) nor an experiment directory (experiment_metadata.json)`);
}

/** Where a run keeps a copy of its base model (config.json + model.safetensors), so resume never needs --model-path. */
export const BASE_MODEL_DIR = 'base_model';

/** What a run is built from, checked: data, the model's own config and where its weights come from. */
export interface CheckedRun {
  data: { train: ExampleSource; eval: ExampleSource; description: string };
  /** The architecture of the model the run trains (the base model's own for a fine-tuning run). */
  modelConfig: ModelConfig;
  /** The model directory whose weights the run starts from; null when training from scratch. */
  weightsDir: string | null;
  source: string;
  memory: MemoryEstimate;
}

/**
 * Everything about a run that can be checked without building it: data sources, the model's config.json
 * (a base model's own, not the preset), the configs against each other, and the memory estimate. `baseDir`
 * (resume) replaces rc.model.path with the run's own copy of the base model.
 */
export function checkRun(rc: RunConfig, rec: RecursiveConfig, baseDir: string | null = null): CheckedRun {
  const data = buildSources(rc);
  checkSeqLen(data.train, rc, 'training');
  checkSeqLen(data.eval, rc, 'evaluation');
  let modelConfig: ModelConfig;
  let weightsDir: string | null = null;
  let source: string;
  let where: string;
  if (baseDir !== null && fs.existsSync(path.join(baseDir, 'config.json'))) {
    where = path.join(baseDir, 'config.json');
    weightsDir = weightFiles(baseDir) !== null ? baseDir : null;
    source = weightsDir ? `${rc.model.path ?? baseDir} (the run's copy in ${BASE_MODEL_DIR}/)` : `${rc.model.config ?? 'tiny'} (from scratch, seed ${rc.seed})`;
  } else if (rc.model.path !== null) {
    const m = resolveModelDir(rc.model.path);
    weightsDir = m.dir;
    where = `--model-path ${path.join(m.dir, 'config.json')}`;
    source = m.fromExperiment ? `${m.fromExperiment} (checkpoint step ${m.step})` : m.dir;
  } else {
    where = `--model-config ${rc.model.config ?? 'tiny'}`;
    source = `${rc.model.config ?? 'tiny'} (from scratch, seed ${rc.seed})`;
  }
  const configSource = weightsDir ?? (baseDir !== null && fs.existsSync(path.join(baseDir, 'config.json')) ? path.join(baseDir, 'config.json') : (rc.model.config ?? 'tiny'));
  try {
    modelConfig = loadModelConfig(configSource);
  } catch (e) {
    throw new CliError(`${where}: ${(e as Error).message}`);
  }
  checkModelAgainstRun(modelConfig, rec, where);
  const misfit = tokenizerProblems(data.train.tokenizer, { modelVocabSize: modelConfig.vocab_size });
  if (misfit.length) throw new CliError(`--tokenizer: ${misfit.join('; ')}`);
  const idNotes: string[] = [];
  const idMisfit = reconcileSpecialIds(modelConfig, declaredSpecialIds(configSource), data.train.tokenizer, idNotes);
  if (idMisfit.length) throw new CliError(`${where}: ${idMisfit.join('; ')}`);
  for (const n of idNotes) process.stderr.write(`reclin: ${where}: ${n}\n`);
  checkExamplesFit(data, rc, rec);
  checkBestMetric(rc, rec, data.eval);
  const memory = checkMemory(modelConfig, rc, rec);
  return { data, modelConfig, weightsDir, source, memory };
}

/** The model a checked run starts from: its base model's weights (fully verified), or a fresh one. */
export function buildModel(rc: RunConfig, checked: CheckedRun): KimiLinearLM {
  if (checked.weightsDir === null) return new KimiLinearLM(checked.modelConfig, { seed: rc.seed });
  try {
    // Phases other than baseline start from a frozen base: its bf16 weights stay bf16 on the CPU (setupPhase
    // widens any it unfreezes). The GPU kernels take f32 weights.
    return loadModel(checked.weightsDir, { seed: rc.seed, frozen: rc.phase !== 'baseline' && rc.device === 'cpu' });
  } catch (e) {
    throw new CliError(`--model-path: ${checked.weightsDir}: ${(e as Error).message}`);
  }
}

/**
 * Keeps the run's starting point inside the run: base_model/config.json always, and the base weights when
 * there are some (a hard link where the filesystem allows, else a copy), so resume works after the base moves.
 */
export function keepBaseModel(runDir: string, checked: CheckedRun): void {
  const dir = path.join(runDir, BASE_MODEL_DIR);
  fs.mkdirSync(dir, { recursive: true });
  // Every weight file: model.safetensors, or a published checkpoint's index and shards (hard links when the
  // file system allows, else fsynced copies), each renamed into place when complete.
  for (const f of checked.weightsDir === null ? [] : (weightFiles(checked.weightsDir) ?? [])) {
    const src = path.join(checked.weightsDir!, f);
    const tmp = tempPathFor(path.join(dir, f));
    try {
      fs.linkSync(src, tmp);
    } catch {
      fs.copyFileSync(src, tmp);
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, f));
  }
  writeJsonAtomic(path.join(dir, 'config.json'), checked.modelConfig);
}
