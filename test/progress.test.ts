// The training progress display: a bar redrawn in place on a terminal, plain lines otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../src/cli/progress';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, columns: 200, write: (s: string) => chunks.push(s) } };
}

test('on a terminal the bar is redrawn in place with loss, lr and tokens/s; eval lines do not break it', () => {
  const s = sink(true);
  const p = new Progress({ total: 4, out: s.out });
  p.update(1, 1000, { 'train/loss': 2.5, 'train/lr': 0.001 });
  p.update(2, 1200);
  p.evaluation(2, { 'eval/loss': 2.25, 'eval/exact_match': 0.5 });
  p.done();
  const text = s.chunks.join('');
  assert.ok(s.chunks[0].startsWith('\r\x1b[K['));
  assert.match(text, /\[######\.+\]\s+25% step 1\/4 {2}loss 2\.500 {2}lr 0\.0010 {2}tok\/s 1000/);
  assert.match(text, /50% step 2\/4 {2}loss 2\.500 .*tok\/s 1200/);
  assert.match(text, /\r\x1b\[Keval @ step 2: exact_match 0\.5000, loss 2\.250\n/);
  assert.ok(text.endsWith('\n'));
});

test('without a terminal it prints one plain line per log step and nothing in between', () => {
  const s = sink(false);
  const p = new Progress({ total: 10, out: s.out, label: '[x]' });
  p.update(1, 500);
  p.update(2, 500, { 'train/loss': 1.5, 'train/lr': 0.0005 });
  p.evaluation(2, { 'eval/loss': 1.25 });
  p.done();
  assert.equal(s.chunks.length, 2);
  assert.match(s.chunks[0], /^\[x\] step 2\/10 {2}loss 1\.500 {2}lr 5\.00e-4 {2}tok\/s 500 {2}elapsed \d+s {2}eta \S+\n$/);
  assert.equal(s.chunks[1], '[x] eval @ step 2: loss 1.250\n');
  assert.ok(!s.chunks.join('').includes('\r'));
});
