// Kimi's tiktoken-style tokenizer (tiktoken.model + tokenizer_config.json, as the Kimi Linear checkpoints ship
// it), implemented here: the ranks file gives each byte string its id; text is cut at special-token texts,
// split by Kimi's pre-tokenizer pattern, and each piece is merged byte-pair by byte-pair, always merging the
// adjacent pair whose concatenation has the lowest rank (leftmost on ties), as tiktoken does.
//
// Ids: the n ranks are 0..n-1; n .. n+255 are the 256 reserved special tokens, named by tokenizer_config.json's
// added_tokens_decoder (else `<|reserved_token_<id>|>`). Kimi's tokenization_kimi.py registers two more names
// past those (n+256, n+257) that lie beyond the published model's vocab_size (n + 256 = 163840); they are left
// out here, so the tokenizer fits its model.
//
// Not reproduced: tokenization_kimi.py first cuts text into slices of at most 400,000 characters and runs of at
// most 25,000 consecutive (non-)whitespace characters; text with such runs may split differently there.
import { resolveRoles, type RoleOverrides } from './roles';
import type { TokenizerSource } from './hf';
import { SpecialIdSet, type EncodeOptions, type Tokenizer, type TokenizerDescription } from './tokenizer';

export const KIMI_RESERVED_SPECIALS = 256;

// Kimi's pattern (tokenization_kimi.py's pat_str) in JavaScript `v` syntax: class intersection `A&&[^B]` is
// written `[A--B]`, Han is Script=Han, `\s` is White_Space (JavaScript's \s also matches U+FEFF), and the
// case-insensitive contraction group is spelled out (Unicode case folding adds only U+017F to 's').
const L_UPPER = '[[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]--\\p{Script=Han}]';
const L_LOWER = '[[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]--\\p{Script=Han}]';
const CONTRACTION = "(?:'[sS\\u017F]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?";
const WS = '\\p{White_Space}';
export const KIMI_PATTERN = new RegExp(
  [
    '\\p{Script=Han}+',
    `[^\\r\\n\\p{L}\\p{N}]?${L_UPPER}*${L_LOWER}+${CONTRACTION}`,
    `[^\\r\\n\\p{L}\\p{N}]?${L_UPPER}+${L_LOWER}*${CONTRACTION}`,
    '\\p{N}{1,3}',
    ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*`,
    `${WS}*[\\r\\n]+`,
    `${WS}+(?!\\P{White_Space})`,
    `${WS}+`,
  ].join('|'),
  'gv',
);

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, (c) => `\\${c}`);
}

/** Parses a tiktoken ranks file: lines `<base64 bytes> <rank>`; ranks must be exactly 0..n-1, all 256 bytes present. */
export function parseTiktokenRanks(text: string, where: string): Buffer[] {
  const byRank: Buffer[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([A-Za-z0-9+/=]+) (\d+)\s*$/.exec(line);
    if (!m) throw new SyntaxError(`${where}:${i + 1}: expected "<base64 token> <rank>", got ${JSON.stringify(line.slice(0, 60))}`);
    const bytes = Buffer.from(m[1], 'base64');
    const rank = Number(m[2]);
    if (bytes.length === 0) throw new SyntaxError(`${where}:${i + 1}: empty token`);
    const key = bytes.toString('latin1');
    if (seen.has(key)) throw new SyntaxError(`${where}:${i + 1}: token ${m[1]} appears twice`);
    if (byRank[rank] !== undefined) throw new SyntaxError(`${where}:${i + 1}: rank ${rank} appears twice`);
    seen.add(key);
    byRank[rank] = bytes;
  });
  for (let r = 0; r < byRank.length; r++) if (byRank[r] === undefined) throw new SyntaxError(`${where}: rank ${r} is missing (ranks must be 0..${byRank.length - 1})`);
  for (let b = 0; b < 256; b++) {
    if (!seen.has(String.fromCharCode(b))) throw new SyntaxError(`${where}: the single byte 0x${b.toString(16).padStart(2, '0')} has no rank (a byte-level BPE needs all 256)`);
  }
  return byRank;
}

export class TiktokenTokenizer implements Tokenizer {
  readonly kind = 'tiktoken' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number;
  readonly maskId: number | null;
  readonly latentId: number | null;
  readonly ordinaryCount: number;
  private readonly ranks = new Map<string, number>();
  private readonly bytesOf: Buffer[];
  private readonly specialIds = new Map<string, number>();
  /** Merged ids of recently seen pieces (natural text repeats its words); cleared when full. */
  private readonly cache = new Map<string, number[]>();
  private readonly specialSplit: RegExp | null;
  private readonly specials: SpecialIdSet;
  private readonly description: TokenizerDescription;

  /** `ranksText` is tiktoken.model's text, `config` tokenizer_config.json's object ({} when absent). */
  constructor(ranksText: string, config: Record<string, unknown>, source: TokenizerSource, overrides: RoleOverrides = {}) {
    const where = source.file;
    const byRank = parseTiktokenRanks(ranksText, where);
    const n = byRank.length;
    byRank.forEach((b, r) => this.ranks.set(b.toString('latin1'), r));
    const names = new Map<number, string>();
    for (let id = n; id < n + KIMI_RESERVED_SPECIALS; id++) names.set(id, `<|reserved_token_${id}|>`);
    const decoder = config.added_tokens_decoder;
    if (decoder !== undefined) {
      if (!decoder || typeof decoder !== 'object') throw new TypeError(`added_tokens_decoder: ${where} has a ${typeof decoder}, expected an object {"<id>": {"content": "..."}}`);
      for (const [key, v] of Object.entries(decoder as Record<string, unknown>)) {
        const id = Number(key);
        const content = (v as { content?: unknown } | null)?.content;
        if (!Number.isInteger(id) || id < n || typeof content !== 'string') {
          throw new RangeError(`added_tokens_decoder.${key}: expected an id >= ${n} (past the ${n} ranks) with a string "content", got ${JSON.stringify(v)}`);
        }
        names.set(id, content);
      }
    }
    this.bytesOf = [...byRank];
    for (const [id, name] of names) {
      if (this.specialIds.has(name)) throw new RangeError(`added_tokens_decoder: ${where} names ${JSON.stringify(name)} twice`);
      this.specialIds.set(name, id);
      this.bytesOf[id] = Buffer.from(name, 'utf8');
    }
    this.vocabSize = Math.max(...names.keys()) + 1;
    for (let id = 0; id < this.vocabSize; id++) if (this.bytesOf[id] === undefined) this.bytesOf[id] = Buffer.alloc(0);
    // Every id past the ranks is special, unnamed ones included (they decode to nothing).
    this.specials = new SpecialIdSet(Array.from({ length: this.vocabSize - n }, (_, i) => n + i), this.vocabSize);
    this.ordinaryCount = this.specials.ordinaryCount;
    // Longest first, so a special text that contains another is matched whole.
    const texts = [...names.values()].sort((a, b) => b.length - a.length);
    this.specialSplit = texts.length ? new RegExp(texts.map(escapeRegExp).join('|'), 'gu') : null;
    const { special, notes } = resolveRoles((t) => this.specialIds.get(t), config, overrides, where);
    this.bosId = special.bos?.id ?? null;
    this.eosId = special.eos?.id ?? null;
    this.padId = special.pad!.id;
    this.maskId = special.mask?.id ?? null;
    this.latentId = special.latent?.id ?? null;
    this.description = { kind: this.kind, path: source.path, files: source.files, vocab_size: this.vocabSize, special, notes };
  }

  /** Byte-pair merge of one pre-tokenized piece into ranks. */
  private mergePiece(piece: Buffer, out: number[]): void {
    const whole = this.ranks.get(piece.toString('latin1'));
    if (whole !== undefined) {
      out.push(whole);
      return;
    }
    // bounds[i] is where part i starts; parts are merged until no adjacent pair has a rank.
    const bounds: number[] = [];
    for (let i = 0; i <= piece.length; i++) bounds.push(i);
    const pairRank = (i: number) => (i + 2 < bounds.length ? (this.ranks.get(piece.toString('latin1', bounds[i], bounds[i + 2])) ?? Infinity) : Infinity);
    const rk: number[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) rk.push(pairRank(i));
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i < rk.length; i++) {
        if (rk[i] < best) {
          best = rk[i];
          at = i;
        }
      }
      if (at < 0) break;
      bounds.splice(at + 1, 1);
      rk.splice(at + 1, 1);
      rk[at] = pairRank(at);
      if (at > 0) rk[at - 1] = pairRank(at - 1);
    }
    for (let i = 0; i + 1 < bounds.length; i++) out.push(this.ranks.get(piece.toString('latin1', bounds[i], bounds[i + 1]))!);
  }

  private encodeOrdinary(text: string, out: number[]): void {
    for (const m of text.matchAll(KIMI_PATTERN)) {
      let ids = this.cache.get(m[0]);
      if (ids === undefined) {
        ids = [];
        this.mergePiece(Buffer.from(m[0], 'utf8'), ids);
        if (this.cache.size >= 100_000) this.cache.clear();
        this.cache.set(m[0], ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** Special-token texts in `text` become their ids (as tokenization_kimi.py's default allow_special_tokens). */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`text: expected a string, got ${typeof text}`);
    const out: number[] = [];
    if (opts.bos && this.bosId !== null) out.push(this.bosId);
    let from = 0;
    if (this.specialSplit) {
      for (const m of text.matchAll(this.specialSplit)) {
        this.encodeOrdinary(text.slice(from, m.index), out);
        out.push(this.specialIds.get(m[0])!);
        from = m.index! + m[0].length;
      }
    }
    this.encodeOrdinary(text.slice(from), out);
    if (opts.eos) {
      if (this.eosId === null) throw new RangeError(`${this.description.path} has no eos token to append`);
      out.push(this.eosId);
    }
    return out;
  }

  /** The ids' bytes joined and read as UTF-8 (invalid sequences become U+FFFD). */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    const parts: Buffer[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`ids[${i}]: expected a token id in [0, ${this.vocabSize}), got ${id}`);
      if (opts.skipSpecial && this.specials.has(id)) continue;
      parts.push(this.bytesOf[id]);
    }
    return Buffer.concat(parts).toString('utf8');
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
