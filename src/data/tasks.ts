// Seeded synthetic tasks with an exact-match answer. Each is a fixed-width prompt followed by an answer the
// model writes as the chunk, so iterative refinement of the whole answer (carries, global order) can help.
import { Rng } from './rng';

export interface TaskSample {
  /** The text the model is given, e.g. "0123+0456=". */
  prompt: string;
  /** The text it must produce, e.g. "00579" (exact match; EOS follows in the token sequence). */
  answer: string;
}

export interface SyntheticTask {
  readonly name: string;
  /** One sample, drawn with `rng` only (so a seed and an index determine it). */
  sample(rng: Rng): TaskSample;
  /** The fixed prompt and answer lengths in characters (bytes). */
  readonly promptChars: number;
  readonly answerChars: number;
}

export type TaskSpec =
  | { name: 'addition'; digits: number }
  | { name: 'sorting'; length: number; alphabet?: number }
  | { name: 'reverse'; length: number; alphabet?: number };

function checkInt(field: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${field}: expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function letters(rng: Rng, n: number, alphabet: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[rng.int(alphabet)];
  return s;
}

/** Multi-digit addition, operands zero-padded to `digits`, the sum to digits+1: "0123+0456=" -> "00579". */
export function additionTask(digits: number): SyntheticTask {
  checkInt('addition.digits', digits, 1, 15);
  const pad = (x: number, w: number) => String(x).padStart(w, '0');
  return {
    name: `addition-${digits}`,
    promptChars: 2 * digits + 2,
    answerChars: digits + 1,
    sample(rng) {
      // Draw digit by digit so any `digits` up to 15 stays exact in float64.
      let a = 0;
      let b = 0;
      for (let i = 0; i < digits; i++) {
        a = a * 10 + rng.int(10);
        b = b * 10 + rng.int(10);
      }
      return { prompt: `${pad(a, digits)}+${pad(b, digits)}=`, answer: pad(a + b, digits + 1) };
    },
  };
}

/** Sort `length` letters drawn from the first `alphabet` letters: "sort:dbca=" -> "abcd". */
export function sortingTask(length: number, alphabet = 26): SyntheticTask {
  checkInt('sorting.length', length, 1, 256);
  checkInt('sorting.alphabet', alphabet, 2, 26);
  return {
    name: `sorting-${length}`,
    promptChars: length + 6,
    answerChars: length,
    sample(rng) {
      const s = letters(rng, length, alphabet);
      return { prompt: `sort:${s}=`, answer: [...s].sort().join('') };
    },
  };
}

/** Reverse `length` letters: "rev:abc=" -> "cba". */
export function reverseTask(length: number, alphabet = 26): SyntheticTask {
  checkInt('reverse.length', length, 1, 256);
  checkInt('reverse.alphabet', alphabet, 2, 26);
  return {
    name: `reverse-${length}`,
    promptChars: length + 5,
    answerChars: length,
    sample(rng) {
      const s = letters(rng, length, alphabet);
      return { prompt: `rev:${s}=`, answer: [...s].reverse().join('') };
    },
  };
}

export function makeTask(spec: TaskSpec): SyntheticTask {
  if (!spec || typeof spec !== 'object') throw new TypeError(`task: expected an object like {name: 'addition', digits: 3}, got ${JSON.stringify(spec)}`);
  switch (spec.name) {
    case 'addition':
      return additionTask(spec.digits);
    case 'sorting':
      return sortingTask(spec.length, spec.alphabet);
    case 'reverse':
      return reverseTask(spec.length, spec.alphabet);
    default:
      throw new RangeError(`task.name: expected 'addition', 'sorting' or 'reverse', got ${JSON.stringify((spec as { name?: unknown }).name)}`);
  }
}

/** Exact match: the generated text up to (not including) the first EOS equals the answer. */
export function exactMatch(generated: string, answer: string): boolean {
  return generated === answer;
}
