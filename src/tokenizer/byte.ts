// Byte-level tokenizer: ids 0..255 are the UTF-8 bytes, then a few special tokens. The default for the
// synthetic tasks; the model presets use vocab_size = BYTE_VOCAB_SIZE (261 real ids, padded to a multiple of 8).
import { SPECIAL_ROLES, SpecialIdSet, type EncodeOptions, type Tokenizer, type TokenizerDescription } from './tokenizer';

export const SPECIAL_TOKENS = {
  pad: 256,
  bos: 257,
  eos: 258,
  /** Replaces corrupted draft positions (docs/design/sidecar.md, "One training step", step 1). */
  mask: 259,
  /** The id reserved for the latent token when a model uses a vocab id instead of a learned vector. */
  latent: 260,
} as const;

export type SpecialToken = keyof typeof SPECIAL_TOKENS;

/** 256 bytes + 5 specials = 261, padded up to 264 (ids 261..263 are reserved and never produced). */
export const BYTE_VOCAB_SIZE = 264;

const SPECIAL_NAME = new Map<number, string>(Object.entries(SPECIAL_TOKENS).map(([k, v]) => [v, `<${k}>`]));

export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte' as const;
  readonly vocabSize = BYTE_VOCAB_SIZE;
  readonly padId: number = SPECIAL_TOKENS.pad;
  readonly bosId: number = SPECIAL_TOKENS.bos;
  readonly eosId: number = SPECIAL_TOKENS.eos;
  readonly maskId: number = SPECIAL_TOKENS.mask;
  readonly latentId: number = SPECIAL_TOKENS.latent;
  private readonly specials = new SpecialIdSet(Array.from({ length: BYTE_VOCAB_SIZE - 256 }, (_, i) => 256 + i), BYTE_VOCAB_SIZE);
  readonly ordinaryCount = 256;

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`text: expected a string, got ${typeof text}`);
    const bytes = Buffer.from(text, 'utf8');
    const out: number[] = [];
    if (opts.bos) out.push(this.bosId);
    for (const b of bytes) out.push(b);
    if (opts.eos) out.push(this.eosId);
    return out;
  }

  /**
   * Bytes back to text (invalid UTF-8 becomes U+FFFD). Special ids are written as `<pad>`, `<eos>`, ...
   * unless skipSpecial; ids outside the vocabulary raise a RangeError.
   */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    let text = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) text += Buffer.from(bytes).toString('utf8');
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`ids[${i}]: expected a token id in [0, ${this.vocabSize}), got ${id}`);
      if (id < 256) {
        bytes.push(id);
        continue;
      }
      flush();
      if (!opts.skipSpecial) text += SPECIAL_NAME.get(id) ?? `<reserved_${id}>`;
    }
    flush();
    return text;
  }

  isSpecial(id: number): boolean {
    return id >= 256;
  }

  ordinaryId(i: number): number {
    return this.specials.ordinaryId(i);
  }

  ordinalOf(id: number): number {
    return this.specials.ordinalOf(id);
  }

  describe(): TokenizerDescription {
    const special = Object.fromEntries(SPECIAL_ROLES.map((r) => [r, r in SPECIAL_TOKENS ? { id: SPECIAL_TOKENS[r as SpecialToken], token: `<${r}>` } : null]));
    return { kind: 'byte', path: null, files: null, vocab_size: this.vocabSize, special: special as TokenizerDescription['special'], notes: [] };
  }
}
