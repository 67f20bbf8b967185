// `reclin run`'s flags (the seed's, unchanged, plus ours) and how they become the validated run and recursive
// configs. Everything is checked here, before any directory is created: a bad flag or config writes nothing.
import { InvalidArgumentError, Option, type Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, PHASES, loadRecursiveConfig, parseRunConfig, type Phase, type RecursiveConfig, type RunConfig } from '../experiment';
import { CliError } from './errors';
import { bf16Problem, deviceProblem } from '../native/route';
import { loadModelConfig } from '../nn';
import { SPECIAL_ROLES, tokenizerProblems } from '../tokenizer';
import { floatArg, intArg, urlArg } from './options';
import { buildTokenizer, inheritedTokenizer } from './run-setup';

export interface RunFlags {
  experimentName?: string;
  description?: string;
  experimentDir: string;
  modelPath?: string;
  modelConfig?: string;
  recursiveConfig?: string;
  runConfig?: string;
  phase?: Phase;
  numSteps?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  logInterval?: number;
  evalInterval?: number;
  saveInterval?: number;
  dataPath?: string;
  evalDataPath?: string;
  evalExamples?: number;
  evalSeed?: number;
  data?: string;
  seed?: number;
  device?: string;
  precision?: 'fp32' | 'bf16';
  keepLast?: number | null;
  bestMetric?: { name: string; mode?: 'min' | 'max' };
  hfRepo?: string;
  hfToken?: string;
  hubUrl?: string;
  private?: boolean;
  tokenizer?: string;
  tokenizerSpecial?: Record<string, string>;
}

/** Where each run-config field comes from on the command line, to name the flag in config errors. */
const FLAG_OF: Record<string, string> = {
  phase: '--phase',
  seed: '--seed',
  device: '--device',
  precision: '--precision',
  num_steps: '--num-steps',
  batch_size: '--batch-size',
  'model.path': '--model-path',
  'model.config': '--model-config',
  'data.train': '--data / --data-path',
  'data.eval': '--eval-data-path',
  'data.eval_examples': '--eval-examples',
  'data.eval_seed': '--eval-seed',
  'optimizer.lr': '--lr',
  'schedule.warmup_steps': '--warmup-steps',
  'intervals.log': '--log-interval',
  'intervals.eval': '--eval-interval',
  'intervals.save': '--save-interval',
  'checkpoint.keep_last': '--keep-last',
  'checkpoint.best_metric': '--best-metric',
  hf_repo: '--hf-repo',
  'tokenizer.path': '--tokenizer',
  'tokenizer.special': '--tokenizer-special',
};

/** `--tokenizer-special mask=<|reserved_token_163590|>`, repeatable; collected into {role: token}. */
function tokenizerSpecialArg(value: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = /^([a-z]+)=(.+)$/s.exec(value);
  if (!m || !(SPECIAL_ROLES as readonly string[]).includes(m[1])) throw new InvalidArgumentError(`Expected ROLE=TOKEN with ROLE one of ${SPECIAL_ROLES.join(', ')}.`);
  return { ...prev, [m[1]]: m[2] };
}

function bestMetricArg(value: string): { name: string; mode?: 'min' | 'max' } {
  const m = /^([^:\s]+)(?::(min|max))?$/.exec(value);
  if (!m) throw new InvalidArgumentError('Expected a metric name, optionally with :min or :max (e.g. eval/loss or eval/exact_match:max).');
  return { name: m[1], mode: m[2] as 'min' | 'max' | undefined };
}

function keepLastArg(value: string): number | null {
  if (value === 'all') return null;
  return intArg(1)(value);
}

/** Adds the run flags to a command (run and reproduce share the output-location ones). */
export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--experiment-name <name>', 'run folder name under --experiment-dir (letters, digits, ".", "_", "-"); default <phase>_<time>')
    .option('--description <text>', 'what this run is for (goes to the metadata and the model card)')
    .option('--experiment-dir <dir>', 'folder holding the experiments', './experiments')
    .option('--run-config <file>', 'a run config JSON (e.g. an earlier run_config.json); flags override its fields')
    .option('--recursive-config <file>', 'recursive config JSON (default: configs/<phase>.json shipped with reclin)')
    .addOption(new Option('--phase <phase>', 'training phase').choices([...PHASES]))
    .option('--model-path <dir>', 'base model: a model directory, or an experiment directory (its best checkpoint\'s model)')
    .option('--model-config <preset|file>', 'architecture when training from scratch: a preset (Kimi Linear shaped: kimi-demo, kimi-tiny, kimi-small; dense: tiny, small) or a config.json')
    .option('--tokenizer <dir|file|byte>', 'tokenizer: a tokenizer.json, a tiktoken.model or a directory holding one; "byte" for bytes (default: the base model\'s, else bytes)')
    .option('--tokenizer-special <role=token>', 'name the token of a special role (bos, eos, pad, mask, latent, unk); repeatable', tokenizerSpecialArg)
    .option('--data <source>', 'training data: synthetic:addition[:digits], synthetic:sorting[:len], synthetic:reverse[:len], or a file')
    .option('--data-path <file>', 'training data file (.jsonl with text or prompt/completion, else plain text)')
    .option('--eval-data-path <file>', 'evaluation data file (default: held-out data of the training source)')
    .option('--eval-examples <n>', 'evaluation set size (default 1000: exact match to +-3.1 points, 95%)', intArg(1))
    .option('--eval-seed <n>', 'seed of a synthetic task\'s evaluation set (default 0; independent of --seed)', intArg(0))
    .option('--num-steps <n>', 'optimizer steps', intArg(0))
    .option('--batch-size <n>', 'examples per step', intArg(1))
    .option('--lr <lr>', 'peak learning rate', floatArg({ min: 0, exclusiveMin: true }))
    .option('--warmup-steps <n>', 'linear warmup steps', intArg(0))
    .option('--log-interval <n>', 'log train metrics every n steps', intArg(1))
    .option('--eval-interval <n>', 'evaluate every n steps', intArg(1))
    .option('--save-interval <n>', 'checkpoint every n steps', intArg(1))
    .option('--keep-last <n|all>', 'keep the newest n checkpoints (the best is always kept)', keepLastArg)
    .option('--best-metric <name[:min|max]>', 'metric that picks the best checkpoint (default eval/loss:min)', bestMetricArg)
    .option('--seed <n>', 'seed of initialisation, data order and corruption', intArg(0))
    .addOption(new Option('--device <device>', 'where to train').choices(['cpu', 'cuda']))
    .addOption(new Option('--precision <precision>', 'compute precision; bf16 needs --device cuda on compute capability 8.0+ (bf16 matmul inputs with fp32 accumulation, KDA inputs stored in bf16; weights, gradients and AdamW state stay fp32)').choices(['bf16', 'fp32']))
    .option('--hf-repo <id>', 'upload the finished run to this Hub repo ("namespace/name")')
    .option('--hf-token <token>', 'Hub write token for --hf-repo (default: HF_TOKEN); never recorded')
    .option('--hub-url <url>', 'Hub endpoint for --hf-repo (default: HF_ENDPOINT, then https://huggingface.co)', urlArg)
    .option('--private', 'create the Hub repo as private', false);
}

function readJsonFile(file: string, flag: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`${flag}: ${file} cannot be read`);
  }
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`${flag}: ${file} is not a JSON object (${(e as Error).message})`);
  }
}

function setPath(obj: Record<string, any>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k];
  }
  cur[keys[keys.length - 1]] = value;
}

/** The shipped recursive config of a phase (configs/ at the package root). */
export function defaultRecursiveConfigPath(phase: Phase): string {
  const name = phase === 'baseline' ? 'baseline' : phase === 'after_surgery' ? 'after_surgery' : `recursive_phase_${phase}`;
  return path.resolve(__dirname, '..', '..', 'configs', `${name}.json`);
}

export interface ResolvedRun {
  name: string;
  parentDir: string;
  description: string;
  runConfig: RunConfig;
  recursiveConfig: RecursiveConfig;
  recursiveConfigPath: string;
  runConfigPath: string | null;
}

/** Flags (+ an optional base run config file) -> validated configs; throws CliError/ConfigError naming flags. */
export function resolveRunFlags(f: RunFlags): ResolvedRun {
  if (f.data !== undefined && f.dataPath !== undefined) throw new CliError(`--data and --data-path both set the training data (got ${JSON.stringify(f.data)} and ${JSON.stringify(f.dataPath)}); give one`);
  const base: Record<string, any> = f.runConfig ? readJsonFile(f.runConfig, '--run-config') : {};
  const set = (field: string, v: unknown) => {
    if (v !== undefined) setPath(base, field, v);
  };
  const tokenizerNamed = f.tokenizer !== undefined || base.tokenizer?.path !== undefined;
  if (f.tokenizer !== undefined) {
    // A new tokenizer: its file hashes are taken afresh below.
    set('tokenizer.path', f.tokenizer === 'byte' ? null : path.resolve(f.tokenizer));
    set('tokenizer.files', null);
  }
  if (f.tokenizerSpecial !== undefined) set('tokenizer.special', { ...(base.tokenizer?.special ?? {}), ...f.tokenizerSpecial });
  set('phase', f.phase);
  set('seed', f.seed);
  set('device', f.device);
  set('precision', f.precision);
  set('num_steps', f.numSteps);
  set('batch_size', f.batchSize);
  set('model.path', f.modelPath === undefined ? undefined : path.resolve(f.modelPath));
  // A config file is recorded by absolute path (a preset stays a name), so the run can be reproduced from anywhere.
  set('model.config', f.modelConfig !== undefined && fs.existsSync(f.modelConfig) ? path.resolve(f.modelConfig) : f.modelConfig);
  set('data.train', f.data ?? (f.dataPath === undefined ? undefined : path.resolve(f.dataPath)));
  set('data.eval', f.evalDataPath === undefined ? undefined : path.resolve(f.evalDataPath));
  set('data.eval_examples', f.evalExamples);
  set('data.eval_seed', f.evalSeed);
  set('optimizer.lr', f.lr);
  set('schedule.warmup_steps', f.warmupSteps);
  set('intervals.log', f.logInterval);
  set('intervals.eval', f.evalInterval);
  set('intervals.save', f.saveInterval);
  set('checkpoint.keep_last', f.keepLast);
  set('checkpoint.best_metric', f.bestMetric?.name);
  set('checkpoint.best_mode', f.bestMetric?.mode);
  set('hf_repo', f.hfRepo);
  let runConfig: RunConfig;
  try {
    runConfig = parseRunConfig(base, f.runConfig ? `${f.runConfig} + flags` : 'run flags');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Name the flag beside each field it sets.
    const lines = e.problems.map((p) => {
      const field = p.split(':')[0];
      return Object.hasOwn(FLAG_OF, field) ? `${p} (flag ${FLAG_OF[field]})` : p;
    });
    throw new ConfigError(e.source, lines, 'run config');
  }
  // Precision follows the device unless named; a device that cannot run is refused here, before anything is written.
  const deviceWhy = deviceProblem(runConfig.device);
  if (deviceWhy) throw new CliError(`--device: ${runConfig.device} cannot train here: ${deviceWhy}`);
  const bf16Why = bf16Problem(runConfig.device);
  runConfig.precision ??= bf16Why ? 'fp32' : 'bf16';
  if (runConfig.precision === 'bf16' && bf16Why)
    throw new CliError(`--precision: bf16 cannot run on --device ${runConfig.device} (${bf16Why}); leave --precision out or give fp32`);
  if (runConfig.model.path !== null && !fs.existsSync(runConfig.model.path)) throw new CliError(`--model-path: ${runConfig.model.path} does not exist`);
  for (const [field, flag] of [['train', '--data-path'], ['eval', '--eval-data-path']] as const) {
    const v = runConfig.data[field];
    if (v !== null && !v.startsWith('synthetic:') && !fs.existsSync(v)) throw new CliError(`${flag}: ${v} does not exist`);
  }
  const recursiveConfigPath = path.resolve(f.recursiveConfig ?? defaultRecursiveConfigPath(runConfig.phase));
  const recursiveConfig = loadRecursiveConfig(recursiveConfigPath);
  const needsSidecar = runConfig.phase !== 'baseline';
  if (needsSidecar !== recursiveConfig.recursive_enabled) {
    throw new CliError(
      `--recursive-config: phase ${runConfig.phase} ${needsSidecar ? 'needs recursive_enabled: true' : 'trains the base model and needs recursive_enabled: false'}, but ${recursiveConfigPath} has recursive_enabled: ${recursiveConfig.recursive_enabled}`,
    );
  }
  // A phase started from a model inherits its tokenizer unless one is named. The tokenizer's own problems are
  // refused here; data, base model, architecture, the tokenizer against the model's vocab_size and memory are
  // checked by startRun (checkRun), also before anything is written.
  if (runConfig.model.path !== null && !tokenizerNamed) {
    let inherited: ReturnType<typeof inheritedTokenizer> = null;
    try {
      inherited = inheritedTokenizer(runConfig.model.path);
    } catch {
      inherited = null; // an unreadable --model-path is reported by checkRun with the field and the reason
    }
    if (inherited) runConfig.tokenizer = { ...inherited, special: { ...inherited.special, ...(f.tokenizerSpecial ?? {}) } };
  }
  const tok = buildTokenizer(runConfig);
  runConfig.tokenizer.files = tok.describe().files;
  const problems = tokenizerProblems(tok, {
    roles: runConfig.phase === 'baseline' ? {} : { mask: `phase ${runConfig.phase}'s sidecar replaces corrupted draft positions with it` },
  });
  if (problems.length) throw new CliError(`--tokenizer: ${problems.join('; ')}`);
  if (f.experimentName !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.experimentName)) {
    throw new CliError(`--experiment-name: expected a folder name of letters, digits, '.', '_' and '-' (starting with a letter or digit), got ${JSON.stringify(f.experimentName)}`);
  }
  const name = f.experimentName ?? `${runConfig.phase}_${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '_')}`;
  return {
    name,
    parentDir: path.resolve(f.experimentDir),
    description: f.description ?? '',
    runConfig,
    recursiveConfig,
    recursiveConfigPath,
    runConfigPath: f.runConfig ? path.resolve(f.runConfig) : null,
  };
}

/** argv with the value of --hf-token replaced, for the command line the tracker records. */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--hf-token' && i + 1 < argv.length) {
      out.push(a, '<redacted>');
      i++;
    } else if (a.startsWith('--hf-token=')) out.push('--hf-token=<redacted>');
    else out.push(a);
  }
  return out;
}
