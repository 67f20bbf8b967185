// Records that are true: notes added from outside while a run trains (a live run in a child process), the
// wall time and label of a killed segment, and a recorded command a reader can run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker, addNoteToRun, readableArgv, readRunMetadata } from '../src/experiment';
import { runCli, repoRoot, waitFor } from './cli-helpers';

const child = path.join(__dirname, 'live-run-child.ts');

function startLiveRun(parent: string, name: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', child, parent, name], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  return { p, output: () => out, exited, dir: path.join(parent, name) };
}

function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

test('notes and issues added while the run trains (CLI and API, concurrently) all reach the metadata once, none lost', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-rec-'));
  const run = startLiveRun(parent, 'live');
  await waitFor(() => run.output().includes('ready'), 'the child run to start', 60_000);
  await waitFor(() => fs.existsSync(path.join(run.dir, 'metrics', 'metrics.jsonl')) && fs.readFileSync(path.join(run.dir, 'metrics', 'metrics.jsonl'), 'utf8').split('\n').length > 15, 'the run to log');

  const cli = await runCli(['note', run.dir, 'seen from the CLI while it trains', '--step', '5'], { cwd: parent });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /note added to .*: \[Step 5\] .*seen from the CLI while it trains\n.*enters its metadata at its next heartbeat/);
  const issue = await runCli(['issue', run.dir, 'an issue, multi\nline'], { cwd: parent });
  assert.equal(issue.code, 0, issue.stderr);
  const mine: string[] = [];
  for (let i = 0; i < 40; i++) {
    const text = `outside note ${i}`;
    mine.push(text);
    assert.equal(addNoteToRun(run.dir, 'note', text, i).merged, false);
    if (i % 8 === 0) await new Promise((r) => setTimeout(r, 15)); // interleave with the run's own notes
  }
  // The live run merges them on its heartbeat, while it still trains.
  await waitFor(() => readJson(path.join(run.dir, 'experiment_metadata.json')).notes.filter((n: { text: string }) => n.text.startsWith('outside')).length === 40, 'the live run to merge the notes');
  assert.equal(readJson(path.join(run.dir, 'status.json')).status, 'running');

  fs.writeFileSync(path.join(run.dir, 'stop'), '');
  assert.equal(await run.exited, 0, run.output());
  const meta = readJson(path.join(run.dir, 'experiment_metadata.json'));
  const texts: string[] = meta.notes.map((n: { text: string }) => n.text);
  for (const t of [...mine, 'seen from the CLI while it trains']) assert.equal(texts.filter((x) => x === t).length, 1, `${t} exactly once`);
  assert.ok(texts.some((t) => t.startsWith('from the run at step')), "the run's own notes are kept");
  assert.deepEqual(meta.issues.map((n: { text: string }) => n.text), ['an issue, multi\nline']);
  const file = fs.readFileSync(path.join(run.dir, 'notes', 'notes.txt'), 'utf8');
  assert.equal(file.split('\n').filter(Boolean).length, texts.length, 'notes.txt: one whole line per note, none torn or interleaved');
  for (const line of file.split('\n').filter(Boolean)) assert.match(line, /^(\[Step \d+\] )?\d{4}-\d\d-\d\dT[\d:.]+Z: (outside note \d+|from the run at step \d+|seen from the CLI while it trains)$/);
  assert.match(fs.readFileSync(path.join(run.dir, 'notes', 'issues.txt'), 'utf8'), /Z: an issue, multi\n {4}line\n$/);
});

test('an entry left in the inbox (the run ended before merging it) is seen by readers and merged by the next writer', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-rec-'));
  const tr = await ExperimentTracker.create({ name: 'late', dir: parent, tensorboard: false });
  await tr.close();
  // As if written between the run's last merge and its unlock: the inbox line alone, plus a torn line.
  fs.appendFileSync(path.join(tr.dir, 'notes', 'inbox.jsonl'), `${JSON.stringify({ kind: 'notes', id: 'abc', step: 2, time: new Date().toISOString(), text: 'late note' })}\n{"kind":"no`);
  assert.deepEqual(readRunMetadata(tr.dir).notes.map((n) => n.text), ['late note']);
  assert.equal(readJson(path.join(tr.dir, 'experiment_metadata.json')).notes.length, 0);
  addNoteToRun(tr.dir, 'note', 'after a torn line');
  assert.deepEqual(readJson(path.join(tr.dir, 'experiment_metadata.json')).notes.map((n: { text: string }) => n.text), ['late note', 'after a torn line']);
});

test('a killed segment is labelled killed and counts only until its last sign of life in duration_s', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-rec-'));
  const run = startLiveRun(parent, 'killed');
  await waitFor(() => run.output().includes('ready'), 'the child run to start', 60_000);
  await new Promise((r) => setTimeout(r, 600));
  run.p.kill('SIGKILL');
  await run.exited;
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 2500)); // the gap before the resume is not training time
  const tr = await ExperimentTracker.resume(run.dir, { fromStep: null });
  await new Promise((r) => setTimeout(r, 200));
  await tr.close();
  const meta = readJson(path.join(run.dir, 'experiment_metadata.json'));
  const [s0, s1] = meta.segments;
  assert.equal(s0.status, 'killed');
  assert.equal(s1.status, 'completed');
  const end0 = Date.parse(s0.ended_at);
  assert.ok(end0 <= killedAt && end0 > killedAt - 2000, `segment 0 ends at its last heartbeat or record (${s0.ended_at}), not later`);
  const expected = (end0 - Date.parse(s0.started_at) + Date.parse(s1.ended_at) - Date.parse(s1.started_at)) / 1000;
  assert.ok(Math.abs(meta.duration_s - expected) < 0.02, `duration_s ${meta.duration_s} = the two segments' ${expected}`);
  assert.ok(meta.duration_s < (Date.parse(s1.ended_at) - Date.parse(meta.created_at)) / 1000 - 2, 'the gap is not counted');
  assert.match(fs.readFileSync(path.join(run.dir, 'README.md'), 'utf8'), /\| duration \| [\d.]+ s of training wall time over 2 segments \(resumed 1×; 1 killed, counted to their last heartbeat\) \|/);
});

test('the recorded command is one a reader can run: npx reclin for an installed package, reclin on PATH, the launcher in a clone', () => {
  const node = process.execPath;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cmd-'));
  // The entry points of this clone, as run from its root and from elsewhere.
  for (const entry of [path.join(repoRoot, 'bin', 'reclin.js'), path.join(repoRoot, 'dist', 'cli', 'main.js'), path.join(repoRoot, 'src', 'cli', 'main.ts')]) {
    assert.deepEqual(readableArgv([node, entry, 'run', '--seed', '1'], repoRoot), ['node', path.join('bin', 'reclin.js'), 'run', '--seed', '1']);
    assert.deepEqual(readableArgv([node, entry, 'list'], tmp), ['node', path.join(repoRoot, 'bin', 'reclin.js'), 'list']);
  }
  // Installed: the npx cache, a project's dependency (through node_modules/.bin), or PATH (npm link / -g).
  const npxCache = path.join(tmp, '.npm', '_npx', 'f1ff6125fe26de5e', 'node_modules', 'reclin');
  const binLink = path.join(tmp, 'node_modules', '.bin');
  const onPath = path.join(tmp, 'usr', 'bin');
  fs.mkdirSync(path.dirname(npxCache), { recursive: true });
  fs.symlinkSync(repoRoot, npxCache);
  for (const d of [binLink, onPath]) {
    fs.mkdirSync(d, { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'bin', 'reclin.js'), path.join(d, 'reclin'));
  }
  assert.deepEqual(readableArgv([node, path.join(npxCache, 'bin', 'reclin.js'), 'run', '--phase', 'a'], tmp), ['npx', 'reclin', 'run', '--phase', 'a']);
  assert.deepEqual(readableArgv([node, path.join(binLink, 'reclin'), 'list'], tmp), ['npx', 'reclin', 'list']);
  assert.deepEqual(readableArgv([node, path.join(onPath, 'reclin'), 'list'], tmp), ['reclin', 'list']);
  // Other scripts: node and the script, relative to cwd where possible.
  assert.deepEqual(readableArgv([node, path.join(tmp, 'scripts', 'train.js'), '--lr', '1e-3'], tmp), ['node', path.join('scripts', 'train.js'), '--lr', '1e-3']);
  assert.deepEqual(readableArgv([node, '/elsewhere/train.js'], tmp), ['node', '/elsewhere/train.js']);
  assert.deepEqual(readableArgv(['reclin', 'run'], tmp), ['reclin', 'run'], 'a command given by the caller is kept');
});
