// The comparison's pure parts: config diff, final/best metrics, the SVG chart and the HTML report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDiff, flatten, isWeightedTotal, meanRate, metricMode, metricTable, renderHtml, renderText, type RunSummary } from '../src/cli/compare-report';
import { lineChartSvg, niceTicks } from '../src/cli/svg-chart';

const runs: RunSummary[] = [
  {
    name: 'base',
    dir: '/x/base',
    status: 'completed',
    config: flatten({ run: { seed: 1, optimizer: { lr: 0.001 } }, recursive: { recursive_enabled: false } }),
    series: { 'train/loss': [[1, 3], [2, 2.5], [3, 2.7]], 'eval/exact_match': [[2, 0.1], [3, 0.05]] },
  },
  {
    name: 'a<&>',
    dir: '/x/a',
    status: 'stale',
    config: flatten({ run: { seed: 1, optimizer: { lr: 0.002 } }, recursive: { recursive_enabled: true, chunk_width: 8 } }),
    series: { 'train/loss': [[1, 3.1], [2, NaN], [3, 2.0]] },
  },
];

test('config diff lists exactly the keys that differ, a missing key counting as different', () => {
  assert.deepEqual(configDiff(runs), [
    { key: 'recursive.chunk_width', values: [undefined, 8] },
    { key: 'recursive.recursive_enabled', values: [false, true] },
    { key: 'run.optimizer.lr', values: [0.001, 0.002] },
  ]);
  assert.equal(configDiff(runs, true).length, 4);
});

test('final is the last logged value, best follows the direction the name tells, NaN never wins', () => {
  assert.equal(metricMode('train/loss'), 'min');
  assert.equal(metricMode('eval/exact_match'), 'max');
  assert.equal(metricMode('train/tokens_per_s'), undefined);
  assert.equal(metricMode('eval/denoise_final_ce'), 'min');
  assert.equal(metricMode('eval/denoise_token_accuracy'), 'max');
  const t = metricTable(runs);
  const loss = t.find((r) => r.metric === 'train/loss')!;
  assert.deepEqual(loss.cells[0], { final: { step: 3, value: 2.7 }, best: { step: 2, value: 2.5 } });
  assert.deepEqual(loss.cells[1], { final: { step: 3, value: 2.0 }, best: { step: 3, value: 2.0 } });
  const em = t.find((r) => r.metric === 'eval/exact_match')!;
  assert.deepEqual(em.cells[0].best, { step: 2, value: 0.1 });
  assert.deepEqual(em.cells[1], {});
  const text = renderText(runs);
  assert.match(text, /run\.optimizer\.lr\s+0\.001\s+0\.002/);
  assert.match(text, /train\/loss \(min\)\s+2\.7 @3\s+2\.5 @2\s+2 @3\s+2 @3/);
});

test('the SVG chart has one line per run, round ticks, escaped names, and skips non-finite points', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(2.5, 3.1), [2.6, 2.8, 3]);
  const svg = lineChartSvg([{ name: 'r<1>', points: [[1, 1], [2, NaN], [3, 0.5]] }, { name: 'r2', points: [[1, 2]] }, { name: 'empty', points: [] }], { title: 'loss & more' });
  assert.equal((svg.match(/<polyline/g) ?? []).length, 1);
  assert.equal((svg.match(/<circle/g) ?? []).length, 1);
  assert.ok(svg.includes('r&lt;1&gt;') && svg.includes('loss &amp; more') && !svg.includes('NaN'));
  assert.match(lineChartSvg([], { title: 't' }), /no data/);
});

test('the HTML report holds the tables and one inline SVG chart per loss/eval metric', () => {
  const html = renderHtml(runs, { generatedAt: 'now' });
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.ok(html.includes('a&lt;&amp;&gt;') && !html.includes('a<&>'));
  assert.match(html, /Config differences \(3\)/);
  assert.ok(!/<script/i.test(html));
});

test('throughput is the mean over the run (all tokens / all time), not its last instant', () => {
  const r: RunSummary[] = [
    { name: 'x', dir: '/x', status: 'completed', config: {}, series: { 'perf/tokens_per_s': [[1, 100], [2, 300], [3, 50]] } },
    { name: 'y', dir: '/y', status: 'completed', config: {}, series: { 'perf/tokens_per_s': [[1, 200], [2, NaN]] } },
  ];
  const cell = metricTable(r)[0].cells[0];
  // Equal tokens per step: 3 steps over 1/100 + 1/300 + 1/50 s per token.
  assert.ok(Math.abs(cell.mean!.value - 3 / (1 / 100 + 1 / 300 + 1 / 50)) < 1e-9);
  assert.equal(cell.mean!.count, 3);
  assert.deepEqual(meanRate([[1, NaN], [2, 0]]), undefined);
  const text = renderText(r);
  assert.match(text, /perf\/tokens_per_s\s+mean 90 \(3 logs\)\s+—\s+mean 200 \(1 logs\)/);
  assert.ok(!/50 @3/.test(text), 'the last instant is not the figure shown');
  assert.match(renderHtml(r), /mean 90 \(3 logs\)/);
});

test('phase a\'s weighted train/loss is charted apart from the cross-entropy train/loss of other runs', () => {
  const r: RunSummary[] = [
    { name: 'control', dir: '/c', status: 'completed', config: {}, series: { 'train/loss': [[1, 2], [2, 1.5]] } },
    { name: 'phase_a', dir: '/a', status: 'completed', config: {}, series: { 'train/loss': [[1, 9], [2, 8]], 'train/loss/final_ce': [[1, 2.1], [2, 1.6]], 'train/loss/halt': [[1, 0.7], [2, 0.6]] } },
  ];
  assert.equal(isWeightedTotal(r[1], 'train/loss'), true);
  assert.equal(isWeightedTotal(r[0], 'train/loss'), false);
  const html = renderHtml(r);
  const figures = [...html.matchAll(/<figure>([\s\S]*?)<\/figure>/g)].map((m) => m[1]);
  const ce = figures.find((f) => />train\/loss</.test(f))!;
  const weighted = figures.find((f) => /train\/loss \(weighted objective: sum of its train\/loss\/\* terms\)/.test(f))!;
  assert.ok(ce.includes('control') && !ce.includes('phase_a'), 'the cross-entropy axes hold only cross-entropies');
  assert.ok(weighted.includes('phase_a') && !weighted.includes('control'));
  assert.match(html, /train\/loss of phase_a is the weighted recursive objective/);
  assert.match(renderText(r), /train\/loss of phase_a is the weighted recursive objective/);
});
