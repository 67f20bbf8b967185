// Option value parsers for commander. A bad value is rejected by commander with the flag and the value
// ("option '--step <n>' argument 'x' is invalid.") followed by our sentence saying what is allowed.
import { InvalidArgumentError, type Command } from 'commander';
import { parseRunConfig } from '../experiment';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}.`);
    }
    return n;
  };
}

export function floatArg(opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    const lowOk = opts.min === undefined || (opts.exclusiveMin ? n > opts.min : n >= opts.min);
    const highOk = opts.max === undefined || n <= opts.max;
    if (value.trim() === '' || !Number.isFinite(n) || !lowOk || !highOk) {
      const range = [opts.min !== undefined ? `${opts.exclusiveMin ? '>' : '>='} ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
      throw new InvalidArgumentError(`Expected a finite number${range ? ` ${range}` : ''}.`);
    }
    return n;
  };
}

export function urlArg(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError('Expected an http(s) URL such as https://huggingface.co.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('Expected an http(s) URL such as https://huggingface.co.');
  return value;
}

/** Human-readable byte count (binary units). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/**
 * Adds "(default: ...)" to the help of the options named in `defaults`. Commander shows a default only when it
 * is given the value, and then a flag left out is indistinguishable from one passed: run flags must stay
 * undefined when absent, because a --run-config file's value wins over the built-in default.
 */
export function showDefaults(cmd: Command, defaults: Record<string, string>): void {
  for (const opt of cmd.options) {
    const d = opt.long ? defaults[opt.long] : undefined;
    if (d !== undefined) opt.description = `${opt.description} (default: ${d})`;
  }
}

/** `reclin run`'s defaults: those of an empty run config, plus what an absent flag means. */
export function runFlagDefaults(): Record<string, string> {
  const rc = parseRunConfig({}, 'defaults');
  return {
    '--description': 'empty',
    '--run-config': 'none: every field at the values shown here',
    '--phase': rc.phase,
    '--model-path': 'none: train from scratch (phase baseline)',
    '--model-config': `${rc.model.config}, when there is no --model-path`,
    '--data': rc.data.train,
    '--data-path': 'none: --data',
    '--num-steps': String(rc.num_steps),
    '--batch-size': String(rc.batch_size),
    '--lr': String(rc.optimizer.lr),
    '--warmup-steps': String(rc.schedule.warmup_steps),
    '--log-interval': String(rc.intervals.log),
    '--eval-interval': String(rc.intervals.eval),
    '--save-interval': String(rc.intervals.save),
    '--keep-last': rc.checkpoint.keep_last === null ? 'all' : String(rc.checkpoint.keep_last),
    '--seed': String(rc.seed),
    '--device': rc.device,
    '--precision': 'bf16 on cuda, fp32 on cpu',
    '--hf-repo': 'none: no upload',
    '--tokenizer': "bytes, or the base model's / base experiment's tokenizer",
    '--tokenizer-special': "none: the roles the tokenizer's files declare",
    '--eval-examples': String(rc.data.eval_examples),
    '--eval-seed': String(rc.data.eval_seed),
  };
}

/** Shown under `reclin run --help`. */
export const RUN_DEFAULTS_HELP = '\nThe defaults are those of an empty run config. With --run-config FILE, the file\'s fields replace them, and\nthe flags given override both. Every resolved value is recorded in the run\'s run_config.json.\n';
