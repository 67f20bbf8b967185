// The CLI commands that read or annotate run directories: note, issue, list, show, card, compare.
// Runs are made with the real ExperimentTracker; the CLI runs as a child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { makeTrackedRun } from './tracked-run';
import { runCli, repoRoot, cliEntry } from './cli-helpers';

let tmp: string;
let exp: string;
let runA: string;
let runB: string;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-runs-'));
  exp = path.join(tmp, 'experiments');
  runA = (await makeTrackedRun(exp, 'run_a', { lr: 0.001 })).dir;
  runB = (await makeTrackedRun(exp, 'run_b', { lr: 0.002, offset: -0.5 })).dir;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) m.set(path.join(e.parentPath, e.name), fs.readFileSync(path.join(e.parentPath, e.name)).toString('base64'));
  }
  return m;
}

test('reclin note / issue append to the notes files and the metadata; bad input changes nothing', async () => {
  const { dir } = await makeTrackedRun(tmp, 'noted');
  const n = await runCli(['note', dir, 'the loss plateaus after warmup', '--step', '3']);
  assert.equal(n.code, 0, n.stderr);
  assert.match(n.stdout, /note added to .*noted: \[Step 3\] \d{4}-\d\d-\d\dT.*: the loss plateaus after warmup/);
  const i = await runCli(['issue', dir, 'eval set too small']);
  assert.equal(i.code, 0, i.stderr);
  assert.match(fs.readFileSync(path.join(dir, 'notes', 'notes.txt'), 'utf8'), /\[Step 3\] \S+: the loss plateaus after warmup\n$/);
  assert.match(fs.readFileSync(path.join(dir, 'notes', 'issues.txt'), 'utf8'), /\n\S+Z: eval set too small\n$/);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8'));
  assert.deepEqual(meta.notes.at(-1).text, 'the loss plateaus after warmup');
  assert.equal(meta.notes.at(-1).step, 3);
  assert.equal(meta.issues.at(-1).text, 'eval set too small');

  const before = snapshot(dir);
  const bad: [string[], RegExp][] = [
    [['note', dir, 'x', '--step', '-1'], /option '--step <n>' argument '-1' is invalid\. Expected an integer >= 0\./],
    [['note', dir, 'x', '--step', 'two'], /option '--step <n>' argument 'two' is invalid\. Expected an integer >= 0\./],
    [['note', dir, '  '], /^reclin: text: expected a non-empty note, got "  "/],
    [['issue', path.join(tmp, 'nowhere'), 'x'], /^reclin: dir: .*nowhere does not exist/],
    [['note', tmp, 'x'], /^reclin: dir: .* is not an experiment directory \(no experiment_metadata\.json\)/],
    [['note', dir], /missing required argument 'text'/],
  ];
  const results = await Promise.all(bad.map(([args]) => runCli(args)));
  results.forEach((r, k) => {
    assert.equal(r.code, 1, `${bad[k][0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, bad[k][1]);
  });
  assert.deepEqual(snapshot(dir), before);
});

test('reclin note is accepted while a live run holds the directory, and reaches its metadata', async () => {
  const { dir, tracker } = await makeTrackedRun(tmp, 'live', { keepOpen: true });
  try {
    const r = await runCli(['note', dir, 'written while it trains']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the run is training: the note is in notes\/notes\.txt now and enters its metadata at its next heartbeat/);
    assert.match(fs.readFileSync(path.join(dir, 'notes', 'notes.txt'), 'utf8'), /Z: written while it trains\n$/);
  } finally {
    await tracker.close('completed');
  }
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8'));
  assert.deepEqual(meta.notes.map((n: { text: string }) => n.text), ['loss falls', 'written while it trains']);
});

test('reclin list shows each run with its status and flags a killed run as stale', async () => {
  const parent = path.join(tmp, 'list');
  await makeTrackedRun(parent, 'done');
  // A run whose process dies hard (SIGKILL) leaves status "running" behind.
  const script = `const { ExperimentTracker } = require(${JSON.stringify(path.join(repoRoot, 'src', 'experiment'))});
    ExperimentTracker.create({ name: 'killed', dir: ${JSON.stringify(parent)}, command: ['x'] }).then(() => process.kill(process.pid, 'SIGKILL'));`;
  await new Promise<void>((resolve) => spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, stdio: 'ignore' }).on('close', () => resolve()));
  const r = await runCli(['list', '--experiment-dir', parent]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+STATUS\s+PHASE\s+STEP\s+CREATED/);
  assert.match(r.stdout, /\ndone\s+completed\s+baseline\s+4\s+\d{4}-/);
  assert.match(r.stdout, /\nkilled\s+STALE\s+baseline\s+-/);
  assert.match(r.stdout, /killed: recorded as running, but its process \d+ on .* is gone/);
  const j = await runCli(['list', '--experiment-dir', parent, '--json']);
  const rows = JSON.parse(j.stdout);
  assert.deepEqual(rows.map((x: { name: string; status: string }) => [x.name, x.status]).sort(), [['done', 'completed'], ['killed', 'stale']]);
  // The default folder is ./experiments.
  const emptyDir = fs.mkdtempSync(path.join(tmp, 'empty-'));
  const [dflt, empty] = await Promise.all([runCli(['list'], { cwd: tmp }), runCli(['list'], { cwd: emptyDir })]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.match(dflt.stdout, /\nrun_a\s+completed[^\n]*\nrun_b\s+completed/);
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /^no experiments under .*empty-\w+\/experiments\n$/);
});

test('reclin show summarises a run; reclin card rewrites README.md and prints it', async () => {
  const [s, c] = await Promise.all([runCli(['show', runA]), runCli(['card', runB])]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^run_a {2}\(run_a_/);
  assert.match(s.stdout, /\nstatus {6}completed/);
  assert.match(s.stdout, /\ncheckpoints 2, 4\n/);
  assert.match(s.stdout, /\nbest {8}step 2 \(eval\/loss = 2, min\)/);
  assert.match(s.stdout, /\n {2}eval\/loss\s+2\.5\s+2 @2\s+2\.5 @4/);
  assert.match(s.stdout, /\nnotes {7}1\n {2}\[Step 2\] .*: loss falls/);
  assert.match(s.stdout, /\nissues {6}1\n {2}\[Step 4\] .*: eval is noisy/);
  assert.equal(c.code, 0, c.stderr);
  assert.ok(c.stdout.startsWith('---\n'), c.stdout.slice(0, 100));
  assert.equal(c.stdout, fs.readFileSync(path.join(runB, 'README.md'), 'utf8'));
  assert.match(c.stderr, /wrote .*run_b\/README\.md/);
});

test('reclin compare prints config differences and final/best metrics and writes the HTML report', async () => {
  const html = path.join(tmp, 'report.html');
  const r = await runCli(['compare', runA, runB, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /config differences \(1\):\nkey\s+run_a\s+run_b\nrun\.optimizer\.lr\s+0\.001\s+0\.002/);
  assert.match(r.stdout, /eval\/loss \(min\)\s+2\.5 @4\s+2 @2\s+2 @4\s+1\.5 @2/);
  assert.match(r.stdout, /HTML report: .*report\.html/);
  const page = fs.readFileSync(html, 'utf8');
  assert.ok(page.startsWith('<!DOCTYPE html>'));
  assert.equal((page.match(/<svg /g) ?? []).length, 3, 'eval/exact_match, eval/loss and train/loss charts');
  assert.match(page, /run\.optimizer\.lr/);

  const bad = await Promise.all([
    runCli(['compare', runA]),
    runCli(['compare', runA, runB, '--html', path.join(tmp, 'no', 'such', 'dir', 'r.html')]),
    runCli(['compare', runA, path.join(tmp, 'missing')]),
  ]);
  assert.match(bad[0].stderr, /^reclin: dirs: expected two or more experiment directories, got 1/);
  assert.match(bad[1].stderr, /^reclin: --html: the folder of .* does not exist/);
  assert.match(bad[2].stderr, /^reclin: dir: .*missing does not exist/);
  for (const b of bad) assert.equal(b.code, 1);
  assert.ok(!fs.existsSync(path.join(tmp, 'no')));
});

test('reclin list shows runs nested in a demo or sweep folder; `reclin list | head` exits quietly when the reader closes the pipe', async () => {
  const parent = path.join(tmp, 'nested');
  await makeTrackedRun(parent, 'top');
  await makeTrackedRun(path.join(parent, 'demo_20260101-000000'), 'base');
  await makeTrackedRun(path.join(parent, 'sweep', 'lr_0.001'), 'seed_1');
  fs.mkdirSync(path.join(parent, 'not_a_run', 'empty'), { recursive: true });
  const r = await runCli(['list', '--experiment-dir', parent]);
  assert.equal(r.code, 0, r.stderr);
  const names = r.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(names, ['top', 'demo_20260101-000000/base', 'sweep/lr_0.001/seed_1']);
  const j = JSON.parse((await runCli(['list', '--experiment-dir', parent, '--json'])).stdout);
  assert.equal(j[2].dir, path.join(parent, 'sweep', 'lr_0.001', 'seed_1'));
  // The reader goes away before reclin writes (as `head` does after its lines): EPIPE must not crash it.
  const child = spawn(process.execPath, [...cliEntry, 'list', '--experiment-dir', parent], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(stderr, '', 'nothing on stderr');
  assert.equal(code, 0);
});
