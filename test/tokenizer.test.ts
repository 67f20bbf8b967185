// Tokenizers: the byte tokenizer as before; tokenizer.json trained here with the Python `tokenizers` package and
// Kimi's tiktoken.model format built here, each encoding and decoding a corpus exactly as the Python reference
// does (tokenizers; tiktoken with Kimi's pattern); special roles, file hashes and refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ByteTokenizer, HfTokenizer, decodeModelOutput, JsonlSource, Rng, SpecialIdSet, TaskSource, TextFileSource, TiktokenTokenizer, collateChunks, corruptChunk, loadTokenizer, sortingTask, tokenizerProblems } from '../src/data';
import { HARD_LINES, BUILD_AND_ENCODE_TIKTOKEN, ENCODE_HF, TRAIN_HF_BPE, TRAIN_HF_METASPACE, corpus } from './tokenizer-fixtures';
import { requirePython, runPython } from './helpers';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-tok-'));
  fs.writeFileSync(path.join(tmp, 'corpus.txt'), corpus(400, 1).join('\n'));
  fs.writeFileSync(path.join(tmp, 'lines.json'), JSON.stringify([...HARD_LINES, ...corpus(60, 2), corpus(30, 3).join('\n')]));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const evalLines = (): string[] => JSON.parse(fs.readFileSync(path.join(tmp, 'lines.json'), 'utf8'));
const sha256 = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

test('SpecialIdSet: ordinaryId and ordinalOf are inverse around specials at the start, middle and end', () => {
  const s = new SpecialIdSet([0, 1, 7, 8, 19], 20);
  assert.equal(s.ordinaryCount, 15);
  const ordinary = Array.from({ length: 20 }, (_, i) => i).filter((i) => !s.has(i));
  assert.deepEqual(Array.from({ length: 15 }, (_, i) => s.ordinaryId(i)), ordinary);
  ordinary.forEach((id, i) => assert.equal(s.ordinalOf(id), i));
  for (const id of [0, 1, 7, 8, 19, -1, 20]) assert.equal(s.ordinalOf(id), -1);
  assert.throws(() => s.ordinaryId(15), /ordinary index: expected an integer in \[0, 15\)/);
});

test('decodeModelOutput writes ids past the tokenizer vocabulary (a padded model vocabulary) as <id N>', () => {
  const tok = new ByteTokenizer();
  assert.equal(decodeModelOutput(tok, [104, 105, 300, 258, 33]), 'hi<id 300><eos>!');
  assert.equal(decodeModelOutput(tok, [300, 104], { skipSpecial: true }), '<id 300>h');
});

test('byte tokenizer: unchanged ids, random corruption draws exactly the bytes it drew before', () => {
  const tok = new ByteTokenizer();
  assert.deepEqual(tok.encode('hé', { bos: true, eos: true }), [257, 104, 195, 169, 258]);
  assert.equal(tok.ordinaryCount, 256);
  assert.deepEqual(tok.describe().special.mask, { id: 259, token: '<mask>' });
  const src = new TaskSource(sortingTask(6), 3);
  const batch = collateChunks([0, 1, 2, 3].map((i) => src.get(i)), { chunkWidth: 7 });
  const got = corruptChunk(batch, 0.6, Rng.seeded(5), { mode: 'random' });
  // The draw as written before the tokenizer interface: a byte other than the clean one, any byte for a special.
  const rng = Rng.seeded(5);
  const want = Int32Array.from(batch.chunk);
  for (let b = 0; b < batch.batchSize; b++) {
    const len = batch.lengths[b];
    const n = Math.min(len, Math.max(1, Math.floor(len * 0.6)));
    const perm = rng.permutation(len);
    const m = new Uint8Array(len);
    for (let i = 0; i < n; i++) m[perm[i]] = 1;
    for (let j = 0; j < len; j++) {
      if (!m[j]) continue;
      const clean = batch.chunk[b * 7 + j];
      const isByte = clean < 256;
      let r = rng.int(isByte ? 255 : 256);
      if (isByte && r >= clean) r++;
      want[b * 7 + j] = r;
    }
  }
  assert.deepEqual(got.draft, want);
});

test('tokenizer.json trained by Python tokenizers (byte-level BPE): ids and decoded text equal Python on every line, and round-trip', (t) => {
  const py = requirePython(['tokenizers']);
  if ('skip' in py) return t.skip(py.skip);
  const file = path.join(tmp, 'bpe', 'tokenizer.json');
  fs.mkdirSync(path.dirname(file));
  runPython(py.python, TRAIN_HF_BPE, [path.join(tmp, 'corpus.txt'), file, '420']);
  const ref = JSON.parse(runPython(py.python, ENCODE_HF, [file, path.join(tmp, 'lines.json')]));
  const tok = loadTokenizer(path.dirname(file));
  assert.ok(tok instanceof HfTokenizer);
  assert.equal(tok.vocabSize, ref.vocab_size);
  const lines = evalLines();
  let tokens = 0;
  lines.forEach((s, i) => {
    const ids = tok.encode(s);
    assert.deepEqual(ids, ref.lines[i].ids, `line ${i} ${JSON.stringify(s)}: ids`);
    assert.equal(tok.decode(ids), ref.lines[i].text, `line ${i}: decoded as Python does`);
    assert.equal(tok.decode(ids), s, `line ${i}: round trip`);
    tokens += ids.length;
  });
  assert.ok(tokens < lines.join('').length, 'merges were applied');
  // Roles by their conventional names; no pad fallback needed.
  const d = tok.describe();
  assert.deepEqual([tok.padId, tok.bosId, tok.eosId, tok.maskId, tok.latentId], [0, 1, 2, 3, null]);
  assert.deepEqual(d.files, { 'tokenizer.json': sha256(file) });
  assert.deepEqual(tok.encode('ab', { bos: true, eos: true }).slice(0, 1), [1]);
  assert.equal(tok.decode([1, ...tok.encode('hi'), 2]), '<s>hi</s>');
  assert.equal(tok.decode([1, ...tok.encode('hi'), 2], { skipSpecial: true }), 'hi');
  assert.equal(tok.ordinaryCount, tok.vocabSize - 4);
  assert.throws(() => tok.decode([tok.vocabSize]), /ids\[0\]: expected a token id in \[0, 420\)/);
});

test('tokenizer.json with NFKC + Metaspace + unknown token: ids and decoded text equal Python', (t) => {
  const py = requirePython(['tokenizers']);
  if ('skip' in py) return t.skip(py.skip);
  const file = path.join(tmp, 'sp.json');
  runPython(py.python, TRAIN_HF_METASPACE, [path.join(tmp, 'corpus.txt'), file]);
  const ref = JSON.parse(runPython(py.python, ENCODE_HF, [file, path.join(tmp, 'lines.json')]));
  const tok = loadTokenizer(file);
  evalLines().forEach((s, i) => {
    const ids = tok.encode(s);
    assert.deepEqual(ids, ref.lines[i].ids, `line ${i} ${JSON.stringify(s)}: ids`);
    assert.equal(tok.decode(ids), ref.lines[i].text, `line ${i}: decoded`);
  });
  // No pad token: pads are eos, and the description says so.
  assert.equal(tok.padId, tok.eosId);
  assert.ok(tok.describe().notes.some((n) => n.startsWith('pad = eos')));
});

test("Kimi's tiktoken.model format (ranks built here): ids and decoded text equal Python tiktoken with Kimi's pattern", (t) => {
  const py = requirePython(['tiktoken']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = path.join(tmp, 'kimi');
  fs.mkdirSync(dir);
  const ref = JSON.parse(runPython(py.python, BUILD_AND_ENCODE_TIKTOKEN, [path.join(tmp, 'corpus.txt'), dir, path.join(tmp, 'lines.json'), '300']));
  const tok = loadTokenizer(dir);
  assert.ok(tok instanceof TiktokenTokenizer);
  const n = ref.n_ranks;
  assert.equal(tok.vocabSize, n + 256);
  const lines = evalLines();
  // Special-token texts inside the text become their ids, as with allowed_special="all".
  lines.push('before[EOS]after <|mask|><|reserved_token_' + (n + 9) + '|> [BOS]');
  const extra = JSON.parse(runPython(py.python, BUILD_AND_ENCODE_TIKTOKEN, [path.join(tmp, 'corpus.txt'), dir, writeLines(lines), '300']));
  let merged = 0;
  lines.forEach((s, i) => {
    const ids = tok.encode(s);
    assert.deepEqual(ids, extra.lines[i].ids, `line ${i} ${JSON.stringify(s)}: ids`);
    assert.equal(tok.decode(ids), extra.lines[i].text, `line ${i}: decoded`);
    assert.equal(tok.decode(ids), s, `line ${i}: round trip`);
    merged += ids.filter((id) => id >= 256 && id < n).length;
  });
  assert.ok(merged > 100, `merged ranks were used (${merged})`);
  assert.deepEqual([tok.bosId, tok.eosId, tok.maskId, tok.padId], [n, n + 1, n + 2, n + 255]);
  assert.equal(tok.ordinaryCount, n);
  assert.deepEqual(Object.keys(tok.describe().files!).sort(), ['tiktoken.model', 'tokenizer_config.json']);
  assert.equal(tok.decode([n, 5, n + 1], { skipSpecial: true }), tok.decode([5]));
});

function writeLines(lines: string[]): string {
  const f = path.join(tmp, `lines-${crypto.randomUUID()}.json`);
  fs.writeFileSync(f, JSON.stringify(lines));
  return f;
}

test('sources, collation and corruption use the source tokenizer: its ids, pad, mask and ordinary ids', () => {
  const dir = path.join(tmp, 'mini');
  fs.mkdirSync(dir, { recursive: true });
  // A minimal tiktoken tokenizer: the 256 bytes, one merge, named specials.
  const ranks = [...Array.from({ length: 256 }, (_, b) => `${Buffer.from([b]).toString('base64')} ${b}`), `${Buffer.from('ab').toString('base64')} 256`];
  fs.writeFileSync(path.join(dir, 'tiktoken.model'), ranks.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ added_tokens_decoder: { '257': { content: '[BOS]' }, '258': { content: '[EOS]' }, '259': { content: '[MASK]' } }, pad_token: '[EOS]' }));
  const tok = loadTokenizer(dir);
  const src = new TaskSource(sortingTask(4), 9, Infinity, tok);
  const e = src.get(0);
  assert.equal(e.ids[0], 257);
  assert.equal(e.ids.at(-1), 258);
  assert.equal(tok.decode(e.ids.slice(e.promptLength, -1)), e.answer);
  assert.match(tok.decode(e.ids.slice(1, e.promptLength)), /^sort:[a-z]{4}=$/);
  const jl = path.join(tmp, 'mini.jsonl');
  fs.writeFileSync(jl, JSON.stringify({ prompt: 'ab', completion: 'abab' }) + '\n');
  assert.deepEqual(new JsonlSource(jl, Infinity, tok).get(0).ids, [257, 256, 256, 256, 258]);
  const txt = path.join(tmp, 'mini.txt');
  fs.writeFileSync(txt, 'ababab');
  assert.equal(new TextFileSource(txt, 2, tok).size, 1, '3 tokens make one window of 2');
  const batch = collateChunks([src.get(0), { ids: [257, 97, 98, 258], promptLength: 1 }], { chunkWidth: 6, padId: tok.padId });
  assert.ok(Array.from(batch.chunk).includes(258));
  const masked = corruptChunk(batch, 1, Rng.seeded(1), { mode: 'mask', tokenizer: tok });
  for (let i = 0; i < masked.corrupted.length; i++) if (masked.corrupted[i]) assert.equal(masked.draft[i], 259);
  const random = corruptChunk(batch, 1, Rng.seeded(1), { mode: 'random', tokenizer: tok });
  for (let i = 0; i < random.corrupted.length; i++) {
    if (!random.corrupted[i]) continue;
    assert.ok(!tok.isSpecial(random.draft[i]) && random.draft[i] < 257, `ordinary replacement, got ${random.draft[i]}`);
    assert.notEqual(random.draft[i], batch.chunk[i]);
  }
  // Without a mask token, 'mask' corruption is refused; 'random' still works.
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ added_tokens_decoder: { '257': { content: '[BOS]' }, '258': { content: '[EOS]' } } }));
  const noMask = loadTokenizer(dir);
  assert.throws(() => corruptChunk(batch, 1, Rng.seeded(1), { mode: 'mixed', tokenizer: noMask }), /corruption mode "mixed": .*has no mask token/);
  assert.deepEqual(tokenizerProblems(noMask, { modelVocabSize: 513, roles: { mask: 'the sidecar needs it' } }).length, 1);
  assert.match(tokenizerProblems(noMask, { roles: { mask: 'the sidecar needs it' } })[0], /has no mask token, and the sidecar needs it; name one with tokenizer\.special\.mask/);
  assert.match(tokenizerProblems(noMask, { modelVocabSize: 100 })[0], /produces ids up to 512, but the model's vocab_size is 100/);
  // An override names a reserved special as the mask.
  assert.equal(loadTokenizer(dir, { special: { mask: '<|reserved_token_300|>' } }).maskId, 300);
});

test('loadTokenizer refuses: missing path, empty directory, changed file, unknown role or token, bad ranks', () => {
  const dir = path.join(tmp, 'mini2');
  fs.mkdirSync(dir);
  const ranks = Array.from({ length: 256 }, (_, b) => `${Buffer.from([b]).toString('base64')} ${b}`);
  assert.throws(() => loadTokenizer(path.join(tmp, 'nope')), /tokenizer: .*nope does not exist/);
  assert.throws(() => loadTokenizer(dir), /holds neither tokenizer\.json nor tiktoken\.model/);
  const file = path.join(dir, 'tiktoken.model');
  fs.writeFileSync(file, ranks.join('\n'));
  const tok = loadTokenizer(dir, { special: { eos: '<|reserved_token_256|>' } });
  assert.equal(tok.eosId, 256);
  assert.equal(tok.padId, 256, 'pad falls back to eos');
  const files = tok.describe().files!;
  assert.doesNotThrow(() => loadTokenizer(file, { expectFiles: files, special: { eos: '<|reserved_token_256|>' } }));
  fs.appendFileSync(file, '\n' + `${Buffer.from('zz').toString('base64')} 256`);
  assert.throws(() => loadTokenizer(dir, { expectFiles: files, special: { eos: '<|reserved_token_256|>' } }), /tiktoken\.model in .* has sha256 [0-9a-f]{64}, but the run recorded sha256 [0-9a-f]{64}; the tokenizer changed/);
  assert.throws(() => loadTokenizer(dir), /has neither a pad nor an eos token; name one with tokenizer\.special\.pad/);
  assert.throws(() => loadTokenizer(dir, { special: { eos: 'nope' } }), /tokenizer\.special\.eos: .* has no token "nope"/);
  assert.throws(() => loadTokenizer(dir, { special: { boss: 'x' } as never }), /tokenizer\.special: unknown role "boss", allowed: bos, eos, pad, mask, latent, unk/);
  assert.throws(() => loadTokenizer(null, { special: { eos: 'x' } }), /the byte tokenizer has fixed special tokens/);
  fs.writeFileSync(file, ranks.slice(1).join('\n'));
  assert.throws(() => loadTokenizer(dir), /rank 0 is missing/);
  fs.writeFileSync(file, ranks.slice(0, 255).join('\n'));
  assert.throws(() => loadTokenizer(dir), /the single byte 0xff has no rank/);
  fs.writeFileSync(file, ranks.join('\n') + '\nnot a line');
  assert.throws(() => loadTokenizer(dir), /tiktoken\.model:257: expected "<base64 token> <rank>"/);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(() => loadTokenizer(dir), /tokenizer\.json is not valid JSON/);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": "1.0"}');
  assert.throws(() => loadTokenizer(dir), /not a tokenizer\.json \(expected an object with a "model" field\)/);
});
