// reclin sweep: grid parsing and refusals; a real sweep of 2 configs x 3 seeds on a tiny model, killed with
// SIGKILL mid-way and re-run (completed cells untouched, the rest completed); compare's statistics on its
// results against scipy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetrics } from '../src/experiment';
import { expandGrid, parseSeeds, parseSetFlag, readSweepFile } from '../src/cli/sweep-grid';
import { runCli, startCli, waitFor } from './cli-helpers';
import { requirePython, runPython } from './helpers';
import { writeTinyRunConfig } from './sweep-fixtures';

test('seeds, --set and the grid: parsing and refusals', () => {
  assert.deepEqual(parseSeeds('0-4'), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseSeeds('5,0-2,2'), [0, 1, 2, 5]);
  assert.throws(() => parseSeeds('4-1'), /--seeds: got "4-1", "4-1" ends before it starts; allowed: seeds as "0-4"/);
  assert.throws(() => parseSeeds('a-b'), /--seeds: got "a-b", "a-b" is not a seed or a range/);
  assert.throws(() => parseSeeds(''), /--seeds: got "", which is empty/);
  assert.throws(() => parseSeeds('-1'), /not a seed or a range/);
  assert.deepEqual(parseSetFlag('optimizer.lr=1e-3,3e-3'), { key: 'optimizer.lr', values: [0.001, 0.003] });
  assert.deepEqual(parseSetFlag('recursive.layers_to_refine=[0,1],"all"'), { key: 'recursive.layers_to_refine', values: [[0, 1], 'all'] });
  assert.deepEqual(parseSetFlag('phase=baseline,a').values, ['baseline', 'a']);
  assert.throws(() => parseSetFlag('optimizer.lrr=1e-3'), /--set: unknown field "optimizer.lrr"; allowed: a run config field \(/);
  assert.throws(() => parseSetFlag('lr=1e-3'), /--set: unknown field "lr" \(did you mean "optimizer.lr" or "lora.lr" or "unfreeze.lr"\?\)/);
  assert.throws(() => parseSetFlag('seed=1,2'), /"seed" is set by --seeds/);
  assert.throws(() => parseSetFlag('optimizer.lr='), /--set: optimizer.lr has an empty value/);
  assert.throws(() => parseSetFlag('optimizer.lr'), /allowed: field=value\[,value\.\.\.\]/);
  assert.throws(() => expandGrid([{ key: 'optimizer.lr', values: [] }], [0]), /has no values: the grid would be empty/);
  assert.throws(() => expandGrid([], []), /no seeds: the grid would be empty/);
  assert.throws(() => expandGrid([{ key: 'phase', values: ['a', 'a'] }], [0]), /lists a value twice/);
  const cells = expandGrid([{ key: 'optimizer.lr', values: [0.001, 0.003] }, { key: 'batch_size', values: [4] }], [0, 1]);
  assert.deepEqual(cells.map((c) => c.name), ['optimizer.lr-0.001_s0', 'optimizer.lr-0.001_s1', 'optimizer.lr-0.003_s0', 'optimizer.lr-0.003_s1']);
  assert.equal(cells[2].group, 'optimizer.lr=0.003');
  assert.equal(expandGrid([{ key: 'batch_size', values: [4] }], [0])[0].group, 'all');
});

test('a sweep file: seeds, grid and paths relative to it; unknown keys and empty axes refused', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-file-'));
  try {
    const file = path.join(tmp, 'sweep.json');
    fs.writeFileSync(file, JSON.stringify({ run_config: 'base.json', seeds: '0-2', grid: { 'optimizer.lr': [0.001, 0.003], 'recursive.max_inner_steps': [1, 3] } }));
    const f = readSweepFile(file);
    assert.equal(f.runConfig, path.join(tmp, 'base.json'));
    assert.deepEqual(f.seeds, [0, 1, 2]);
    assert.equal(expandGrid(f.axes, f.seeds!).length, 12);
    fs.writeFileSync(file, JSON.stringify({ seeds: [0], grid: { 'optimizer.lr': [] } }));
    assert.throws(() => readSweepFile(file), /grid\.optimizer\.lr: got \[\], allowed: a non-empty list of values/);
    fs.writeFileSync(file, JSON.stringify({ seeds: [0], grids: {} }));
    assert.throws(() => readSweepFile(file), /unknown key "grids"; allowed: run_config, recursive_config, seeds, grid, description/);
    fs.writeFileSync(file, JSON.stringify({ seeds: '3-1' }));
    assert.throws(() => readSweepFile(file), /seeds: got "3-1"/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('reclin sweep refuses a bad request before writing anything', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-refuse-'));
  try {
    const rc = writeTinyRunConfig(tmp, 4);
    const cases: [string[], RegExp][] = [
      [['--seeds', '3-1'], /--seeds: got "3-1", "3-1" ends before it starts/],
      [['--seeds', '0-1', '--set', 'optimizer.betaa=0.9'], /--set: unknown field "optimizer.betaa"/],
      [['--seeds', '0-1', '--set', 'optimizer.lr=-1'], /cell s0 \(all, seed 0\): .*\n\s+optimizer.lr: got -1, allowed: a number in \(0, 10\]/],
      [['--seeds', '0-1', '--jobs', String(os.availableParallelism() + 1)], /threads, more than the \d+ cores here/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(['sweep', '--run-config', rc, ...args], { cwd: tmp });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, re);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'experiments')), 'a refused sweep writes nothing');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const f = path.join(e.parentPath, e.name);
    out[path.relative(dir, f)] = `${fs.statSync(f).mtimeMs}:${createHash('sha256').update(fs.readFileSync(f)).digest('hex')}`;
  }
  return out;
}

test('a 2 x 3 sweep survives kill -9 of the sweep: re-running completes it, finished cells untouched; stats equal scipy', async (t) => {
  const py = requirePython(['scipy', 'numpy']);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-'));
  try {
    const rc = writeTinyRunConfig(tmp, 40);
    const args = ['sweep', '--run-config', rc, '--seeds', '0-2', '--set', 'optimizer.lr=1e-3,4e-3', '--sweep-name', 'grid'];
    const sweepDir = path.join(tmp, 'experiments', 'grid');
    const manifest = () => JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8'));
    const status = (cell: string) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(sweepDir, cell, 'status.json'), 'utf8')).status as string;
      } catch {
        return 'none';
      }
    };
    // One cell at a time, so the kill lands with some cells done, one mid-run and the rest not started.
    const first = startCli([...args, '--jobs', '1'], { cwd: tmp, timeoutMs: 240_000 });
    await waitFor(() => fs.existsSync(path.join(sweepDir, 'sweep.json')), 'the manifest', 60_000);
    const names: string[] = manifest().cells.map((c: { name: string }) => c.name);
    assert.deepEqual(names, ['optimizer.lr-0.001_s0', 'optimizer.lr-0.001_s1', 'optimizer.lr-0.001_s2', 'optimizer.lr-0.004_s0', 'optimizer.lr-0.004_s1', 'optimizer.lr-0.004_s2']);
    // Kill once two cells are done and the third has written a checkpoint.
    await waitFor(
      () => status(names[0]) === 'completed' && status(names[1]) === 'completed' && fs.existsSync(path.join(sweepDir, names[2], 'checkpoints')) && fs.readdirSync(path.join(sweepDir, names[2], 'checkpoints')).some((d) => /^step_\d+$/.test(d)),
      'two completed cells and a checkpoint of the third',
      180_000,
    );
    first.child.kill('SIGKILL');
    await first.done;
    const killedMidRun = status(names[2]) !== 'completed';
    assert.ok(killedMidRun, 'the kill landed while the third cell was training');
    // The orphaned cell notices that its sweep is gone and stops with a checkpoint.
    await waitFor(() => status(names[2]) !== 'running', 'the orphaned cell to stop', 60_000);
    assert.equal(status(names[3]), 'none', 'cells after the kill had not started');
    const before = Object.fromEntries(names.slice(0, 2).map((n) => [n, treeDigest(path.join(sweepDir, n))]));

    const second = await runCli([...args, '--jobs', '2'], { cwd: tmp, timeoutMs: 240_000 });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /6 cells, 2 already completed, 4 to run/);
    assert.match(second.stdout, /6\/6 cells completed, wall time [\d.]+ s/);
    for (const n of names) assert.equal(status(n), 'completed', n);
    for (const n of names.slice(0, 2)) assert.deepEqual(treeDigest(path.join(sweepDir, n)), before[n], `${n} untouched`);
    const m = manifest();
    {
      assert.match(second.stdout, new RegExp(`start  ${names[2].replace(/\./g, '\\.')} .* resuming from step \\d+`));
      const meta = JSON.parse(fs.readFileSync(path.join(sweepDir, names[2], 'experiment_metadata.json'), 'utf8'));
      assert.ok(meta.segments.length >= 2, 'the interrupted cell was resumed in its own directory');
      assert.equal(m.state[names[2]].attempts, 2);
    }
    for (const n of names.slice(3)) assert.equal(m.state[n].attempts, 1);
    // A third run has nothing left to do.
    const third = await runCli([...args, '--dry-run'], { cwd: tmp });
    assert.match(third.stdout, /6 cells, 0 to run/);

    // compare on the sweep directory: statistics over seeds, paired by seed, equal to scipy's.
    const cmp = await runCli(['compare', sweepDir, '--json'], { cwd: tmp });
    assert.equal(cmp.code, 0, cmp.stderr);
    const rep = JSON.parse(cmp.stdout);
    assert.deepEqual(rep.groups.map((g: { group: string }) => g.group), ['optimizer.lr=0.001', 'optimizer.lr=0.004']);
    const text = await runCli(['compare', sweepDir, '--html', path.join(tmp, 'r.html')], { cwd: tmp });
    assert.match(text.stdout, /optimizer\.lr=0\.004 − optimizer\.lr=0\.001 on eval\/loss: [+−][\d.]+ \(95% CI [+−]?[\d.]+ to [+−]?[\d.]+\), p (= [\d.]+|< 0\.001), n = 3 seeds: /);
    const html = fs.readFileSync(path.join(tmp, 'r.html'), 'utf8');
    assert.match(html, /<polygon fill="#[0-9A-F]{6}" fill-opacity="0\.18"/, 'mean curves with a band');
    if ('skip' in py) return t.skip(py.skip);
    const finals = (n: string) => {
      const last: Record<string, number> = {};
      for (const r of readMetrics(path.join(sweepDir, n))) Object.assign(last, r.metrics);
      return last;
    };
    const loss = names.map((n) => finals(n)['eval/loss']);
    const ref = JSON.parse(
      runPython(
        py.python,
        `
import json, sys
import numpy as np
from scipy import stats
a, b = np.array(json.loads(sys.argv[1])), np.array(json.loads(sys.argv[2]))
out = {}
for k, x in (('a', a), ('b', b)):
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    out[k] = dict(mean=x.mean(), sd=x.std(ddof=1), lo=lo, hi=hi)
r = stats.ttest_rel(b, a); ci = r.confidence_interval(0.95)
out['t'] = r.statistic; out['p'] = r.pvalue; out['lo'] = ci.low; out['hi'] = ci.high
print(json.dumps({k: (v if isinstance(v, dict) else float(v)) for k, v in out.items()}, default=float))
`,
        [JSON.stringify(loss.slice(0, 3)), JSON.stringify(loss.slice(3))],
      ),
    );
    const close = (what: string, a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-10 * Math.max(1, Math.abs(a)), `${what}: scipy ${a}, ours ${b}`);
    for (const [k, g] of [['a', rep.groups[0]], ['b', rep.groups[1]]] as const) {
      const s = g.metrics['eval/loss'];
      close(`${k} mean`, ref[k].mean, s.mean);
      close(`${k} sd`, ref[k].sd, s.sd);
      close(`${k} ci low`, ref[k].lo, s.ci.low);
      close(`${k} ci high`, ref[k].hi, s.ci.high);
    }
    const c = rep.comparisons.find((x: { metric: string }) => x.metric === 'eval/loss');
    assert.equal(c.difference.kind, 'paired');
    assert.deepEqual(c.seeds, [0, 1, 2]);
    close('paired t', ref.t, c.difference.t);
    close('paired p', ref.p, c.difference.p);
    close('paired ci low', ref.lo, c.difference.ci.low);
    close('paired ci high', ref.hi, c.difference.ci.high);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
