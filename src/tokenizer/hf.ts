// A Hugging Face tokenizer.json (BPE, WordPiece, Unigram, with their normalizers, pre-tokenizers and decoders)
// through @huggingface/tokenizers, a pure-JS implementation. Text is encoded without the post-processor's
// added tokens (reclin adds bos/eos itself) and decoded without clean-up of spaces, as the Python `tokenizers`
// package does, so encode/decode round-trip.
import type { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { resolveRoles, type RoleOverrides } from './roles';
import { SpecialIdSet, type EncodeOptions, type Tokenizer, type TokenizerDescription } from './tokenizer';

// Loaded on first use: most runs use the byte tokenizer, and every CLI command starts faster without it.
function hfLibrary(): typeof import('@huggingface/tokenizers') {
  return require('@huggingface/tokenizers');
}

export interface TokenizerSource {
  /** As given (recorded in the run config). */
  path: string;
  /** The tokenizer file itself (named in parse errors). */
  file: string;
  /** sha256 by file name of every file the tokenizer was read from. */
  files: Record<string, string>;
}

export class HfTokenizer implements Tokenizer {
  readonly kind = 'tokenizer.json' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number;
  readonly maskId: number | null;
  readonly latentId: number | null;
  readonly ordinaryCount: number;
  private readonly lib: HfLibTokenizer;
  private readonly specials: SpecialIdSet;
  private readonly description: TokenizerDescription;

  /** `json` is tokenizer.json's object, `config` tokenizer_config.json's ({} when absent). */
  constructor(json: unknown, config: Record<string, unknown>, source: TokenizerSource, overrides: RoleOverrides = {}) {
    const where = source.file;
    if (!json || typeof json !== 'object' || !('model' in json)) throw new TypeError(`${where}: not a tokenizer.json (expected an object with a "model" field)`);
    try {
      this.lib = new (hfLibrary().Tokenizer)(json, config);
    } catch (e) {
      throw new TypeError(`${where}: cannot be read as a tokenizer.json (${(e as Error).message})`);
    }
    let max = -1;
    for (const id of this.lib.get_vocab(true).values()) if (id > max) max = id;
    if (max < 0) throw new RangeError(`${where}: the vocabulary is empty`);
    this.vocabSize = max + 1;
    const added = this.lib.get_added_tokens_decoder();
    const byContent = new Map<string, number>();
    for (const [id, t] of added) byContent.set(t.content, id);
    this.specials = new SpecialIdSet([...added].filter(([, t]) => t.special).map(([id]) => id), this.vocabSize);
    this.ordinaryCount = this.specials.ordinaryCount;
    const { special, notes } = resolveRoles((t) => byContent.get(t) ?? this.lib.token_to_id(t), config, overrides, where);
    this.bosId = special.bos?.id ?? null;
    this.eosId = special.eos?.id ?? null;
    this.padId = special.pad!.id;
    this.maskId = special.mask?.id ?? null;
    this.latentId = special.latent?.id ?? null;
    this.description = { kind: this.kind, path: source.path, files: source.files, vocab_size: this.vocabSize, special, notes };
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`text: expected a string, got ${typeof text}`);
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    if (opts.bos && this.bosId !== null) ids.unshift(this.bosId);
    if (opts.eos) {
      if (this.eosId === null) throw new RangeError(`${this.description.path} has no eos token to append`);
      ids.push(this.eosId);
    }
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    const list: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`ids[${i}]: expected a token id in [0, ${this.vocabSize}), got ${id}`);
      list.push(id);
    }
    if (list.length === 0) return ''; // the library refuses an empty list
    return this.lib.decode(list, { skip_special_tokens: opts.skipSpecial ?? false, clean_up_tokenization_spaces: false });
  }

  isSpecial(id: number): boolean {
    return this.specials.has(id);
  }

  ordinaryId(i: number): number {
    return this.specials.ordinaryId(i);
  }

  ordinalOf(id: number): number {
    return this.specials.ordinalOf(id);
  }

  describe(): TokenizerDescription {
    return structuredClone(this.description);
  }
}
