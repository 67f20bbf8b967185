// Example sources: synthetic tasks, plain-text files and JSONL files. A source maps an index to one example;
// the Batcher decides the order, so every source is deterministic given (seed, index).
import * as fs from 'node:fs';
import { Rng } from './rng';
import { ByteTokenizer } from '../tokenizer/byte';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { SyntheticTask } from './tasks';

export interface Example {
  /** Token ids, starting with BOS for prompted examples. */
  ids: number[];
  /**
   * How many leading ids are the prompt (prefix); the rest is what the model writes. Absent for plain
   * text: the collator then takes the last chunk_width ids as the chunk.
   */
  promptLength?: number;
  /** The exact answer text, for exact-match evaluation (tasks and prompt/completion JSONL). */
  answer?: string;
}

export interface ExampleSource {
  readonly name: string;
  /** The tokenizer its ids come from (collation pads, corruption masks and evaluation decodes with it). */
  readonly tokenizer: Tokenizer;
  /** Number of examples; Infinity for a generated task. */
  readonly size: number;
  get(index: number): Example;
}

const BYTES = new ByteTokenizer();

/** Sources that append EOS need the tokenizer to have one. */
function requireEos(tok: Tokenizer, what: string): number {
  if (tok.eosId === null) throw new RangeError(`${what}: ${tok.describe().path ?? 'the tokenizer'} has no eos token, which ends every example; name one with tokenizer.special.eos in the run config (or --tokenizer-special eos=TOKEN)`);
  return tok.eosId;
}

function checkIndex(index: number, size: number, name: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`${name}: index must be an integer in [0, ${size}), got ${index}`);
}

/** Example i of a task is drawn from Rng.seeded(seed, i): order-free and reproducible. */
export class TaskSource implements ExampleSource {
  readonly name: string;
  constructor(
    readonly task: SyntheticTask,
    readonly seed: number,
    readonly size = Infinity,
    readonly tokenizer: Tokenizer = BYTES,
  ) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed: expected an integer, got ${seed}`);
    if (size !== Infinity && (!Number.isInteger(size) || size < 1)) throw new RangeError(`size: expected a positive integer or Infinity, got ${size}`);
    this.name = `task:${task.name}`;
    requireEos(tokenizer, this.name);
  }
  get(index: number): Example {
    checkIndex(index, this.size, this.name);
    const tok = this.tokenizer;
    const { prompt, answer } = this.task.sample(Rng.seeded(this.seed, index));
    const p = tok.encode(prompt, { bos: true });
    return { ids: [...p, ...tok.encode(answer), tok.eosId!], promptLength: p.length, answer };
  }
}

/**
 * A UTF-8 text file, tokenized whole and cut into consecutive non-overlapping windows of seqLen tokens. The byte
 * tokenizer takes the file's bytes as they are (invalid UTF-8 included).
 */
export class TextFileSource implements ExampleSource {
  readonly name: string;
  readonly size: number;
  private readonly stream: ArrayLike<number> & { slice(from: number, to: number): ArrayLike<number> };
  constructor(
    readonly path: string,
    readonly seqLen: number,
    readonly tokenizer: Tokenizer = BYTES,
  ) {
    if (!Number.isInteger(seqLen) || seqLen < 2) throw new RangeError(`seq_len: expected an integer >= 2, got ${seqLen}`);
    if (!fs.existsSync(path)) throw new Error(`data path: file not found: ${path}`);
    const raw = fs.readFileSync(path);
    this.stream = tokenizer.kind === 'byte' ? new Uint8Array(raw) : Int32Array.from(tokenizer.encode(raw.toString('utf8')));
    this.size = Math.floor(this.stream.length / seqLen);
    const unit = tokenizer.kind === 'byte' ? 'bytes' : 'tokens';
    if (this.size < 1) throw new RangeError(`data path: ${path} has ${this.stream.length} ${unit}, fewer than seq_len = ${seqLen}`);
    this.name = `text:${path}`;
  }
  get(index: number): Example {
    checkIndex(index, this.size, this.name);
    return { ids: Array.from(this.stream.slice(index * this.seqLen, (index + 1) * this.seqLen)) };
  }
}

/**
 * JSONL: each non-empty line is {"text": "..."} (BOS + text + EOS) or {"prompt": "...", "completion": "..."}
 * (BOS + prompt is the prefix, completion + EOS the answer). Lines longer than maxLen tokens are truncated.
 */
export class JsonlSource implements ExampleSource {
  readonly name: string;
  private readonly examples: Example[] = [];
  constructor(
    readonly path: string,
    readonly maxLen = Infinity,
    readonly tokenizer: Tokenizer = BYTES,
  ) {
    if (!fs.existsSync(path)) throw new Error(`data path: file not found: ${path}`);
    const tok = tokenizer;
    const eos = requireEos(tok, `jsonl:${path}`);
    const lines = fs.readFileSync(path, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new SyntaxError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      const o = obj as Record<string, unknown>;
      if (o && typeof o.prompt === 'string' && typeof o.completion === 'string') {
        const p = tok.encode(o.prompt, { bos: true });
        const ids = [...p, ...tok.encode(o.completion), eos].slice(0, maxLen);
        this.examples.push({ ids, promptLength: Math.min(p.length, ids.length), answer: o.completion });
      } else if (o && typeof o.text === 'string') {
        this.examples.push({ ids: tok.encode(o.text, { bos: true, eos: true }).slice(0, maxLen) });
      } else {
        throw new TypeError(`${path}:${i + 1}: expected an object with a string "text" field or string "prompt" and "completion" fields`);
      }
    });
    if (this.examples.length === 0) throw new RangeError(`data path: ${path} has no examples`);
    this.name = `jsonl:${path}`;
  }
  get size(): number {
    return this.examples.length;
  }
  get(index: number): Example {
    checkIndex(index, this.size, this.name);
    const e = this.examples[index];
    return { ...e, ids: [...e.ids] };
  }
}
