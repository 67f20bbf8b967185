// Finding and reading a tokenizer from a path: a directory holding tokenizer.json or tiktoken.model (as a Hub
// checkpoint ships them), or one of those files. tokenizer_config.json beside it, when present, names the
// special tokens. Every file read is hashed, so a run records exactly which tokenizer it used and a resumed or
// reproduced run refuses a tokenizer that has changed since.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteTokenizer } from './byte';
import { HfTokenizer } from './hf';
import type { RoleOverrides } from './roles';
import { TiktokenTokenizer } from './tiktoken';
import type { Tokenizer } from './tokenizer';

export const TOKENIZER_FILES = ['tokenizer.json', 'tiktoken.model'] as const;
const CONFIG_FILE = 'tokenizer_config.json';

export interface LoadTokenizerOptions {
  /** Role -> token text, overriding the tokenizer's own names. */
  special?: RoleOverrides;
  /** sha256 by file name recorded earlier: a file whose content differs is refused. */
  expectFiles?: Record<string, string> | null;
}

/** True when the directory holds a tokenizer file reclin reads. */
export function hasTokenizerFiles(dir: string): boolean {
  return TOKENIZER_FILES.some((f) => fs.existsSync(path.join(dir, f)));
}

function sha256(buf: Buffer): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** The tokenizer file a path names: the file itself, or the one a directory holds (tokenizer.json first). */
export function resolveTokenizerFile(p: string): string {
  const abs = path.resolve(p);
  if (!fs.existsSync(abs)) throw new Error(`tokenizer: ${p} does not exist`);
  if (!fs.statSync(abs).isDirectory()) return abs;
  const found = TOKENIZER_FILES.find((f) => fs.existsSync(path.join(abs, f)));
  if (!found) throw new Error(`tokenizer: ${p} holds neither ${TOKENIZER_FILES.join(' nor ')}`);
  return path.join(abs, found);
}

/** The tokenizer at `p`, or the byte tokenizer for null. */
export function loadTokenizer(p: string | null, opts: LoadTokenizerOptions = {}): Tokenizer {
  if (p === null) {
    if (opts.special && Object.keys(opts.special).length) throw new RangeError('tokenizer.special: the byte tokenizer has fixed special tokens; special overrides need a tokenizer path');
    return new ByteTokenizer();
  }
  const abs = path.resolve(p);
  const file = resolveTokenizerFile(p);
  const files: Record<string, string> = {};
  const read = (f: string): Buffer => {
    const buf = fs.readFileSync(f);
    files[path.basename(f)] = sha256(buf);
    return buf;
  };
  const main = read(file);
  const configPath = path.join(path.dirname(file), CONFIG_FILE);
  let config: Record<string, unknown> = {};
  if (path.basename(file) !== CONFIG_FILE && fs.existsSync(configPath)) {
    try {
      config = JSON.parse(read(configPath).toString('utf8'));
    } catch (e) {
      throw new SyntaxError(`tokenizer: ${configPath} is not valid JSON (${(e as Error).message})`);
    }
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new TypeError(`tokenizer: ${configPath} is not a JSON object`);
  }
  if (opts.expectFiles) {
    for (const [name, want] of Object.entries(opts.expectFiles)) {
      const got = files[name];
      if (got !== want) {
        throw new Error(`tokenizer: ${name} in ${path.dirname(file)} ${got === undefined ? 'is missing' : `has sha256 ${got}`}, but the run recorded sha256 ${want}; the tokenizer changed since the run was made`);
      }
    }
  }
  const source = { path: abs, file, files };
  const text = main.toString('utf8');
  // tokenizer.json is a JSON object; a tiktoken ranks file is lines of "<base64> <rank>".
  if (/^\s*\{/.test(text)) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new SyntaxError(`tokenizer: ${file} is not valid JSON (${(e as Error).message})`);
    }
    return new HfTokenizer(json, config, source, opts.special);
  }
  return new TiktokenTokenizer(text, config, source, opts.special);
}
