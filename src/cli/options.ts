// Option value parsers for commander. A bad value is rejected by commander with the flag and the value
// ("option '--step <n>' argument 'x' is invalid.") followed by our sentence saying what is allowed.
import { InvalidArgumentError } from 'commander';

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
