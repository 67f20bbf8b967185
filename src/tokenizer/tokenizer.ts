// The tokenizer interface every data path uses (sources, collation, corruption, evaluation, generation), and
// the special-token roles reclin needs. A tokenizer maps text to ids in [0, vocabSize) and back; its special
// ids (bos, eos, pad, mask, latent, unk) are found by role, each possibly absent.

export const SPECIAL_ROLES = ['bos', 'eos', 'pad', 'mask', 'latent', 'unk'] as const;
export type SpecialRole = (typeof SPECIAL_ROLES)[number];

export type TokenizerKind = 'byte' | 'tokenizer.json' | 'tiktoken';

/** What the run record keeps about a tokenizer (JSON). */
export interface TokenizerDescription {
  kind: TokenizerKind;
  /** The file or directory it was read from; null for the built-in byte tokenizer. */
  path: string | null;
  /** sha256 of each file read, by file name; null for the byte tokenizer. */
  files: Record<string, string> | null;
  vocab_size: number;
  /** Each role's id and token text; null where the tokenizer has none. */
  special: Record<SpecialRole, { id: number; token: string } | null>;
  /** Roles filled by a fallback rather than named by the tokenizer (e.g. pad = eos). */
  notes: string[];
}

export interface EncodeOptions {
  /** Prepend the bos id (nothing when the tokenizer has none). */
  bos?: boolean;
  /** Append the eos id (an error when the tokenizer has none). */
  eos?: boolean;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** One more than the largest id encode or decode accepts: a model needs vocab_size >= this. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Always set: a tokenizer without a pad token pads with eos (pads are never trained on). */
  readonly padId: number;
  /** Replaces corrupted draft positions; the sidecar's 'mask' and 'mixed' corruption need it. */
  readonly maskId: number | null;
  /** Reserved for a latent token kept as a vocabulary id (reclin's latent token is a learned vector). */
  readonly latentId: number | null;
  /** Ids that are not special: random corruption draws replacements among these. */
  readonly ordinaryCount: number;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Ids back to text; special ids are written as their token text unless skipSpecial. */
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string;
  isSpecial(id: number): boolean;
  /** The i-th ordinary id, i in [0, ordinaryCount). */
  ordinaryId(i: number): number;
  /** The position of an ordinary id among the ordinary ids; -1 for a special id. */
  ordinalOf(id: number): number;
  describe(): TokenizerDescription;
}

/**
 * The ordinary/special split of [0, vocabSize) given the sorted special ids, so corruption can draw a uniform
 * ordinary id without materialising the whole list.
 */
export class SpecialIdSet {
  private readonly sorted: number[];
  private readonly set: Set<number>;
  readonly ordinaryCount: number;
  constructor(
    ids: Iterable<number>,
    readonly vocabSize: number,
  ) {
    this.set = new Set(ids);
    this.sorted = [...this.set].sort((a, b) => a - b);
    this.ordinaryCount = vocabSize - this.sorted.length;
  }
  has(id: number): boolean {
    return this.set.has(id);
  }
  ordinaryId(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.ordinaryCount) throw new RangeError(`ordinary index: expected an integer in [0, ${this.ordinaryCount}), got ${i}`);
    let id = i;
    for (const s of this.sorted) {
      if (s > id) break;
      id++;
    }
    return id;
  }
  ordinalOf(id: number): number {
    if (this.set.has(id) || !Number.isInteger(id) || id < 0 || id >= this.vocabSize) return -1;
    let below = 0;
    for (const s of this.sorted) {
      if (s >= id) break;
      below++;
    }
    return id - below;
  }
}

/** Token texts that name a role by convention, tried when the tokenizer's config does not name one. */
export const CONVENTIONAL_NAMES: Record<SpecialRole, string[]> = {
  bos: ['<s>', '<|begin_of_text|>', '[BOS]', '<bos>', '<|startoftext|>'],
  eos: ['</s>', '<|end_of_text|>', '<|endoftext|>', '[EOS]', '<eos>'],
  pad: ['<pad>', '[PAD]', '<|pad|>'],
  mask: ['<mask>', '[MASK]', '<|mask|>'],
  latent: ['<latent>', '[LATENT]', '<|latent|>'],
  unk: ['<unk>', '[UNK]', '<|unk|>'],
};

/** What a run needs of a tokenizer, checked before anything is written. */
export interface TokenizerNeeds {
  /** The model's vocab_size: every id the tokenizer can produce must be below it. */
  modelVocabSize?: number;
  /** Roles that must be present, each with the reason (e.g. mask: 'the sidecar corrupts drafts with it'). */
  roles?: Partial<Record<SpecialRole, string>>;
}

const ROLE_ID: Record<SpecialRole, (t: Tokenizer) => number | null> = {
  bos: (t) => t.bosId,
  eos: (t) => t.eosId,
  pad: (t) => t.padId,
  mask: (t) => t.maskId,
  latent: (t) => t.latentId,
  unk: (t) => t.describe().special.unk?.id ?? null,
};

/** The problems (empty when none) that make `tok` unusable for a run with these needs. */
export function tokenizerProblems(tok: Tokenizer, needs: TokenizerNeeds): string[] {
  const out: string[] = [];
  const where = tok.describe().path ?? 'the byte tokenizer';
  if (needs.modelVocabSize !== undefined && tok.vocabSize > needs.modelVocabSize) {
    out.push(`${where} produces ids up to ${tok.vocabSize - 1}, but the model's vocab_size is ${needs.modelVocabSize} (allowed: a tokenizer whose vocab_size <= the model's)`);
  }
  for (const [role, why] of Object.entries(needs.roles ?? {}) as [SpecialRole, string][]) {
    if (ROLE_ID[role](tok) === null) {
      out.push(
        `${where} has no ${role} token, and ${why}; name one with tokenizer.special.${role} in the run config (or --tokenizer-special ${role}=TOKEN), or add ${role}_token to tokenizer_config.json`,
      );
    }
  }
  return out;
}

/**
 * Decodes model output, which may hold ids past the tokenizer's vocabulary (a model whose vocab_size is padded
 * beyond it): those are written as `<id N>` instead of raising.
 */
export function decodeModelOutput(tok: Tokenizer, ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
  let text = '';
  let run: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < tok.vocabSize) {
      run.push(ids[i]);
      continue;
    }
    text += tok.decode(run, opts) + `<id ${ids[i]}>`;
    run = [];
  }
  return text + tok.decode(run, opts);
}
