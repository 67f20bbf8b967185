import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Rng,
  ByteTokenizer,
  SPECIAL_TOKENS,
  BYTE_VOCAB_SIZE,
  additionTask,
  sortingTask,
  reverseTask,
  makeTask,
  TaskSource,
  TextFileSource,
  JsonlSource,
  Batcher,
  collateChunks,
  collateSequences,
  IGNORE_INDEX,
  corruptionRateAt,
  corruptionMask,
  corruptChunk,
} from '../src/data';

test('rng: same seed same stream; state save/restore continues exactly', () => {
  const a = Rng.seeded(42);
  const b = Rng.seeded(42);
  for (let i = 0; i < 100; i++) assert.equal(a.nextU32(), b.nextU32());
  const st = JSON.parse(JSON.stringify(a.getState()));
  const x = [a.float(), a.int(7), a.normal(), a.nextU32()];
  const c = Rng.fromState(st);
  assert.deepEqual([c.float(), c.int(7), c.normal(), c.nextU32()], x);
  assert.notEqual(Rng.seeded(1).nextU32(), Rng.seeded(2).nextU32());
  assert.notEqual(Rng.seeded(1, 0).nextU32(), Rng.seeded(0, 1).nextU32());
  // int(n) is in range and roughly uniform
  const counts = new Array(5).fill(0);
  const r = Rng.seeded(3);
  for (let i = 0; i < 5000; i++) counts[r.int(5)]++;
  for (const n of counts) assert.ok(n > 850 && n < 1150, `counts ${counts}`);
  assert.throws(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] }), /all-zero/);
  assert.throws(() => r.int(0), /n must be/);
});

test('tokenizer: bytes round-trip, specials, vocab', () => {
  const t = new ByteTokenizer();
  assert.equal(t.vocabSize, BYTE_VOCAB_SIZE);
  assert.equal(BYTE_VOCAB_SIZE % 8, 0);
  assert.ok(Object.values(SPECIAL_TOKENS).every((id) => id >= 256 && id < BYTE_VOCAB_SIZE));
  const ids = t.encode('héllo ✓', { bos: true, eos: true });
  assert.equal(ids[0], SPECIAL_TOKENS.bos);
  assert.equal(ids[ids.length - 1], SPECIAL_TOKENS.eos);
  assert.equal(t.decode(ids, { skipSpecial: true }), 'héllo ✓');
  assert.equal(t.decode(ids), '<bos>héllo ✓<eos>');
  assert.throws(() => t.decode([300]), /ids\[0\].*\[0, 264\)/);
});

test('tasks: deterministic, correct answers, fixed widths', () => {
  const add = additionTask(4);
  for (let i = 0; i < 50; i++) {
    const s = add.sample(Rng.seeded(9, i));
    const m = /^(\d{4})\+(\d{4})=$/.exec(s.prompt)!;
    assert.ok(m, s.prompt);
    assert.equal(Number(s.answer), Number(m[1]) + Number(m[2]));
    assert.equal(s.answer.length, 5);
    assert.equal(s.prompt.length, add.promptChars);
  }
  const srt = sortingTask(6, 5).sample(Rng.seeded(1));
  assert.equal(srt.answer, [...srt.prompt.slice(5, 11)].sort().join(''));
  assert.match(srt.prompt, /^sort:[a-e]{6}=$/);
  const rev = reverseTask(3).sample(Rng.seeded(2));
  assert.equal(rev.answer, [...rev.prompt.slice(4, 7)].reverse().join(''));
  assert.throws(() => makeTask({ name: 'nope' } as never), /task.name/);
  assert.throws(() => additionTask(0), /addition.digits/);
  const src = new TaskSource(add, 5);
  assert.deepEqual(src.get(17), new TaskSource(add, 5).get(17));
  const e = src.get(3);
  assert.equal(e.ids[0], SPECIAL_TOKENS.bos);
  assert.equal(e.promptLength, 1 + add.promptChars);
  assert.equal(e.ids.length, e.promptLength! + add.answerChars + 1);
  assert.equal(e.ids[e.ids.length - 1], SPECIAL_TOKENS.eos);
});

test('batcher: deterministic order from the seed, every example once per epoch, resumable position', () => {
  const src = new TaskSource(sortingTask(3), 1, 10);
  const key = (e: { ids: number[] }) => e.ids.join(',');
  const straight = new Batcher(src, { batchSize: 3, seed: 7 });
  const seen: string[] = [];
  for (let i = 0; i < 8; i++) seen.push(...straight.next().map(key));
  // epoch 0 = the first 10: a permutation of all examples
  const all = Array.from({ length: 10 }, (_, i) => key(src.get(i)));
  assert.deepEqual([...seen.slice(0, 10)].sort(), [...all].sort());
  assert.deepEqual([...seen.slice(10, 20)].sort(), [...all].sort());
  assert.notDeepEqual(seen.slice(0, 10), all, 'shuffled');
  assert.notDeepEqual(seen.slice(0, 10), seen.slice(10, 20), 'new order per epoch');
  // resume from a saved position (through JSON) in a fresh batcher
  const first = new Batcher(src, { batchSize: 3, seed: 7 });
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push(...first.next().map(key));
  const state = JSON.parse(JSON.stringify(first.getState()));
  const resumed = new Batcher(src, { batchSize: 3, seed: 7 });
  resumed.setState(state);
  for (let i = 3; i < 8; i++) got.push(...resumed.next().map(key));
  assert.deepEqual(got, seen);
  assert.notDeepEqual(new Batcher(src, { batchSize: 3, seed: 8 }).next().map(key), seen.slice(0, 3));
  assert.throws(() => resumed.setState({ epoch: -1, cursor: 0 }), /data position/);
  assert.throws(() => new Batcher(src, { batchSize: 0, seed: 1 }), /batch_size/);
});

test('text and JSONL sources', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-data-'));
  const txt = path.join(dir, 'a.txt');
  fs.writeFileSync(txt, 'abcdefghij');
  const ts = new TextFileSource(txt, 4);
  assert.equal(ts.size, 2);
  assert.deepEqual(ts.get(1).ids, [...Buffer.from('efgh')]);
  assert.throws(() => new TextFileSource(txt, 11), /fewer than seq_len/);
  const jl = path.join(dir, 'a.jsonl');
  fs.writeFileSync(jl, '{"text":"hi"}\n\n{"prompt":"1+1=","completion":"2"}\n');
  const js = new JsonlSource(jl);
  assert.equal(js.size, 2);
  assert.deepEqual(js.get(0).ids, [SPECIAL_TOKENS.bos, 104, 105, SPECIAL_TOKENS.eos]);
  const e = js.get(1);
  assert.equal(e.promptLength, 5);
  assert.equal(e.answer, '2');
  fs.writeFileSync(jl, '{"text":"ok"}\n{"txt":1}\n');
  assert.throws(() => new JsonlSource(jl), /a\.jsonl:2: expected an object/);
  fs.writeFileSync(jl, '{bad\n');
  assert.throws(() => new JsonlSource(jl), /a\.jsonl:1: not valid JSON/);
  fs.rmSync(dir, { recursive: true });
});

test('collateChunks: prefix/chunk split, left-padded prefix, shifted targets with pads ignored', () => {
  const pad = SPECIAL_TOKENS.pad;
  const ex = [
    { ids: [1, 2, 3, 10, 11, 12], promptLength: 3 },
    { ids: [1, 2, 10, 11], promptLength: 2 },
  ];
  const b = collateChunks(ex, { chunkWidth: 4 });
  assert.equal(b.prefixLength, 3);
  assert.deepEqual([...b.prefix], [1, 2, 3, pad, 1, 2]);
  assert.deepEqual([...b.chunk], [10, 11, 12, pad, 10, 11, pad, pad]);
  assert.deepEqual([...b.targets], [10, 11, 12, IGNORE_INDEX, 10, 11, IGNORE_INDEX, IGNORE_INDEX]);
  assert.deepEqual([...b.lengths], [3, 2]);
  // plain text: the chunk is the tail
  const t = collateChunks([{ ids: [5, 6, 7, 8, 9] }], { chunkWidth: 2 });
  assert.deepEqual([...t.prefix], [5, 6, 7]);
  assert.deepEqual([...t.chunk], [8, 9]);
  assert.throws(() => collateChunks([{ ids: [1, 2] }], { chunkWidth: 2 }), /prefix needs at least 1 id/);
  const s = collateSequences([{ ids: [1, 2, 3] }, { ids: [4, 5] }]);
  assert.deepEqual([...s.ids], [1, 2, 3, 4, 5, pad]);
  assert.deepEqual([...s.targets], [2, 3, IGNORE_INDEX, 5, IGNORE_INDEX, IGNORE_INDEX]);
});

test('corruption: schedule values, mask counts, draft differs exactly on corrupted real positions', () => {
  const cfg = { rate: 0.4, rateFinal: 0.1, schedule: 'linear' as const };
  assert.equal(corruptionRateAt(0, 100, cfg), 0.4);
  assert.ok(Math.abs(corruptionRateAt(50, 100, cfg) - 0.25) < 1e-15);
  assert.ok(Math.abs(corruptionRateAt(100, 100, cfg) - 0.1) < 1e-15);
  assert.ok(Math.abs(corruptionRateAt(200, 100, cfg) - 0.1) < 1e-15);
  assert.ok(Math.abs(corruptionRateAt(50, 100, { ...cfg, schedule: 'cosine' }) - 0.25) < 1e-15);
  assert.ok(Math.abs(corruptionRateAt(25, 100, { ...cfg, schedule: 'cosine' }) - (0.4 - 0.3 * 0.5 * (1 - Math.SQRT1_2))) < 1e-15);
  assert.equal(corruptionRateAt(70, 100, { ...cfg, schedule: 'none' }), 0.4);
  assert.throws(() => corruptionRateAt(0, 10, { ...cfg, schedule: 'bogus' as never }), /corruption_schedule/);
  const r = Rng.seeded(4);
  assert.equal(corruptionMask(r, 10, 0.3).reduce((a, x) => a + x, 0), 3);
  assert.equal(corruptionMask(r, 10, 0.0).reduce((a, x) => a + x, 0), 1, 'minCorrupt 1');
  assert.equal(corruptionMask(r, 10, 0.9, { maxCorrupt: 4 }).reduce((a, x) => a + x, 0), 4);
  const span = corruptionMask(r, 12, 0.5, { strategy: 'span' });
  const on = [...span].map((x, i) => (x ? i : -1)).filter((i) => i >= 0);
  assert.equal(on.length, 6);
  assert.equal(on[5] - on[0], 5, 'contiguous');
  const batch = collateChunks(
    [
      { ids: [1, 65, 66, 67, 68, 69, 70], promptLength: 1 },
      { ids: [1, 65, 66], promptLength: 1 },
    ],
    { chunkWidth: 6 },
  );
  for (const mode of ['mask', 'random', 'mixed'] as const) {
    const { draft, corrupted } = corruptChunk(batch, 0.5, Rng.seeded(11), { mode });
    for (let i = 0; i < draft.length; i++) {
      const b = Math.floor(i / 6);
      const j = i % 6;
      if (j >= batch.lengths[b]) assert.equal(corrupted[i], 0, 'pads never corrupted');
      assert.equal(draft[i] !== batch.chunk[i], corrupted[i] === 1, `${mode} position ${i}`);
      if (mode === 'mask' && corrupted[i]) assert.equal(draft[i], SPECIAL_TOKENS.mask);
    }
    assert.equal(corrupted.slice(0, 6).reduce((a, x) => a + x, 0), 3);
    assert.equal(corrupted.slice(6).reduce((a, x) => a + x, 0), 1);
    assert.deepEqual(corruptChunk(batch, 0.5, Rng.seeded(11), { mode }).draft, draft, 'seeded');
  }
});
