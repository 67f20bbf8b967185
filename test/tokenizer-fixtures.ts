// Text for the tokenizer tests: a seeded training corpus and evaluation lines that stress the pre-tokenizers
// (case runs, contractions, Han next to Latin, digits, whitespace of every kind, combining marks, emoji,
// special-token texts inside text), and the Python scripts that build the reference tokenizers.
import { rng } from './helpers';

const WORDS = [
  'the', 'model', 'refines', 'a', 'chunk', 'of', 'tokens', 'recursive', 'attention', 'linear', 'Kimi', 'KDA', 'gate',
  'state', 'HTTPServer', "don't", "it's", "we're", "they'll", "I'd", 'naïve', 'café', 'Über', 'straße', 'ǅemal',
  '中文', '模型', '注意力', 'カタカナ', '한국어', 'Ελληνικά', 'русский', '😀', '🚀🚀', 'x²', '½', '12', '345', '2026',
  '3.14159', '-', '--', '...', '!?', '(a)', '[b]', '{c}', '@user', '#tag', 'e\u0301', 'ｆｕｌｌ', '１２３',
];
const SEPS = [' ', ' ', ' ', '  ', '\t', '\n', ', ', '. ', '\r\n', ' \n\n', '\u00a0'];

/** n lines of seeded word salad. */
export function corpus(n: number, seed: number): string[] {
  const r = rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(r() * 14);
    let s = '';
    for (let j = 0; j < len; j++) s += WORDS[Math.floor(r() * WORDS.length)] + (j + 1 < len ? SEPS[Math.floor(r() * SEPS.length)] : '');
    lines.push(s);
  }
  return lines;
}

/** Hand-picked lines where pre-tokenizers are easy to get wrong. */
export const HARD_LINES = [
  'Hello world',
  '  leading spaces and trailing   ',
  "DON'T shout, it'S fine; it'ſ old",
  'HTTPServerError McDonald\'s iPhone ǅemal ǲ',
  '中文abc模型Model注意力123',
  'カタカナとひらがな 한국어 Ελληνικά',
  '1234567 １２３ x²½ 3.14159',
  'tabs\tand\ttabs\t\tend',
  'line one\r\nline two\n\n\nline five   \n  indented',
  'nbsp\u00a0here and\u2028separator\u2003em space',
  'bom\ufeffinside',
  'e\u0301 combining and a\u0308\u0301 twice',
  '😀🚀 emoji 👩‍👩‍👧 family',
  '!!!??? ... --- ((( )))',
  'unseen words: zyxwvut qqqq JJJJ',
  '',
  ' ',
  '\n',
];

/** Trains a byte-level BPE tokenizer.json with the Python `tokenizers` package: argv corpus, out, vocab size. */
export const TRAIN_HF_BPE = `
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
corpus = open(sys.argv[1], encoding='utf-8').read().split('\\n')
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tr = trainers.BpeTrainer(vocab_size=int(sys.argv[3]), special_tokens=['<pad>', '<s>', '</s>', '<mask>'], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator(corpus, tr)
tok.save(sys.argv[2])
`;

/** A SentencePiece-style BPE (NFKC, Metaspace, unknown token): argv corpus, out. */
export const TRAIN_HF_METASPACE = `
import sys
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, trainers
corpus = open(sys.argv[1], encoding='utf-8').read().split('\\n')
tok = Tokenizer(models.BPE(unk_token='<unk>'))
tok.normalizer = normalizers.NFKC()
tok.pre_tokenizer = pre_tokenizers.Metaspace()
tok.decoder = decoders.Metaspace()
tr = trainers.BpeTrainer(vocab_size=500, special_tokens=['<unk>', '<s>', '</s>'], show_progress=False)
tok.train_from_iterator(corpus, tr)
tok.save(sys.argv[2])
`;

/** Python encodes and decodes each line with a tokenizer.json: argv tokenizer.json, lines.json -> JSON. */
export const ENCODE_HF = `
import sys, json
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
lines = json.load(open(sys.argv[2], encoding='utf-8'))
out = []
for s in lines:
    ids = tok.encode(s, add_special_tokens=False).ids
    out.append({'ids': ids, 'text': tok.decode(ids, skip_special_tokens=False)})
print(json.dumps({'vocab_size': tok.get_vocab_size(with_added_tokens=True), 'lines': out}))
`;

/**
 * Builds a tiktoken.model here (the 256 bytes in a shuffled order, then greedy byte-pair merges learned on the
 * corpus) and a tokenizer_config.json naming a few of the 256 reserved specials, then encodes the lines with
 * the real tiktoken package and Kimi's pattern. argv: corpus, out dir, lines.json, merges -> JSON.
 */
export const BUILD_AND_ENCODE_TIKTOKEN = `
import sys, json, base64, collections, random, re, os
import tiktoken
from tiktoken.load import load_tiktoken_bpe
corpus_path, out_dir, lines_path, n_merges = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
text = open(corpus_path, encoding='utf-8').read()
order = list(range(256))
random.Random(7).shuffle(order)
ranks = {bytes([b]): i for i, b in enumerate(order)}
words = collections.Counter(re.findall(r' ?\\S+|\\s+', text))
seqs = {w: [bytes([b]) for b in w.encode('utf-8')] for w in words}
for _ in range(n_merges):
    pairs = collections.Counter()
    for w, parts in seqs.items():
        for a, b in zip(parts, parts[1:]):
            pairs[(a, b)] += words[w]
    if not pairs:
        break
    (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
    if a + b not in ranks:
        ranks[a + b] = len(ranks)
    for w, parts in seqs.items():
        out, i = [], 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                out.append(a + b); i += 2
            else:
                out.append(parts[i]); i += 1
        seqs[w] = out
n = len(ranks)
with open(os.path.join(out_dir, 'tiktoken.model'), 'w') as f:
    for tok, r in sorted(ranks.items(), key=lambda kv: kv[1]):
        f.write(base64.b64encode(tok).decode() + ' ' + str(r) + '\\n')
named = {n: '[BOS]', n + 1: '[EOS]', n + 2: '<|mask|>', n + 3: '<|im_end|>', n + 255: '[PAD]'}
cfg = {'added_tokens_decoder': {str(i): {'content': c, 'special': True} for i, c in named.items()}, 'bos_token': '[BOS]', 'eos_token': '[EOS]', 'pad_token': '[PAD]'}
json.dump(cfg, open(os.path.join(out_dir, 'tokenizer_config.json'), 'w'))
pat = '|'.join([
    r"""[\\p{Han}]+""",
    r"""[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\\p{N}{1,3}""",
    r""" ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*""",
    r"""\\s*[\\r\\n]+""",
    r"""\\s+(?!\\S)""",
    r"""\\s+""",
])
specials = {named.get(i, '<|reserved_token_%d|>' % i): i for i in range(n, n + 256)}
enc = tiktoken.Encoding(name='test', pat_str=pat, mergeable_ranks=load_tiktoken_bpe(os.path.join(out_dir, 'tiktoken.model')), special_tokens=specials)
lines = json.load(open(lines_path, encoding='utf-8'))
out = []
for s in lines:
    ids = enc.encode(s, allowed_special='all')
    out.append({'ids': ids, 'text': enc.decode(ids)})
print(json.dumps({'n_ranks': n, 'lines': out}))
`;
