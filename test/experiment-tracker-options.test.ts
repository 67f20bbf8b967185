// The options of ExperimentTracker.create and .resume go through a zod schema (tracker-options.ts): every bad
// option is named with the value found and what is allowed, unknown options are refused with a suggestion, and
// nothing is written or locked when the options are wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker, ConfigError, readLock, type CreateTrackerOptions, type ResumeTrackerOptions } from '../src/experiment';

const parentDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-trk-opt-'));

function problemsOf(e: unknown): string[] {
  assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
  return e.problems;
}

test('tracker options: every bad create option is listed with field, value and allowed; nothing is written', async () => {
  const parent = parentDir();
  const bad = {
    name: 'ok',
    dir: parent,
    tags: ['a', 3],
    ifExists: 'overwrite',
    heartbeatMs: 0,
    keepLast: 1.5,
    bestMode: 'lowest',
    modelConfig: [1, 2],
    tensorboard: 'yes',
    flushIntervalMs: -1,
    configPaths: { run: 7 },
  } as unknown as CreateTrackerOptions;
  const e = await ExperimentTracker.create(bad).then(() => null, (x: unknown) => x);
  assert.deepEqual(problemsOf(e).sort(), [
    'bestMode: got "lowest", allowed: "min" or "max"',
    'configPaths.run: got 7, allowed: a path or null',
    'flushIntervalMs: got -1, allowed: a number >= 0',
    'heartbeatMs: got 0, allowed: a number > 0',
    'ifExists: got "overwrite", allowed: "error" or "suffix"',
    'keepLast: got 1.5, allowed: an integer >= 1, or null to keep every checkpoint',
    "modelConfig: got [1,2], allowed: the model's config.json object",
    'tags.1: got 3, allowed: a string',
    'tensorboard: got "yes" (a string), allowed: true or false',
  ]);
  assert.match((e as Error).message, /^ExperimentTracker\.create: invalid options \(9 problems\)/);
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('tracker options: an unknown option is refused with the closest known one; a missing object is named', async () => {
  const parent = parentDir();
  const e = await ExperimentTracker.create({ name: 'ok', dir: parent, heartbeat: 5 } as unknown as CreateTrackerOptions).then(() => null, (x: unknown) => x);
  const [line] = problemsOf(e);
  assert.match(line, /^heartbeat: unknown field, got 5 \(did you mean "heartbeatMs"\?\), allowed: name, dir, /);
  const none = await ExperimentTracker.create(undefined as unknown as CreateTrackerOptions).then(() => null, (x: unknown) => x);
  assert.deepEqual(problemsOf(none), ['(top level): got nothing, allowed: an object with at least a name']);
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('tracker options: bad resume options fail before the run is locked or changed', async () => {
  const parent = parentDir();
  const tr = await ExperimentTracker.create({ name: 'r', dir: parent, tensorboard: false });
  tr.logMetrics({ 'train/loss': 1 }, 1);
  await tr.close();
  const metaFile = path.join(tr.dir, 'experiment_metadata.json');
  const before = fs.readFileSync(metaFile, 'utf8');
  for (const [opts, line] of [
    [{ fromStep: -2 }, 'fromStep: got -2, allowed: a checkpoint step (integer >= 0), -1 to supersede everything, or null'],
    [{ fromStep: 'latest' }, 'fromStep: got "latest" (a string), allowed: a checkpoint step (integer >= 0), -1 to supersede everything, or null'],
    [{ command: 'reclin run' }, 'command: got "reclin run", allowed: a list of strings (the command line)'],
  ] as [unknown, string][]) {
    const e = await ExperimentTracker.resume(tr.dir, opts as ResumeTrackerOptions).then(() => null, (x: unknown) => x);
    assert.deepEqual(problemsOf(e), [line]);
    assert.equal(readLock(tr.dir), undefined, 'no lock left behind');
  }
  assert.equal(fs.readFileSync(metaFile, 'utf8'), before);
  // Good options still resume.
  const again = await ExperimentTracker.resume(tr.dir, { fromStep: null, tensorboard: false });
  assert.equal(again.segment, 1);
  await again.close();
});
