// `reclin upload` end to end: the CLI as a child process, the real Hub client, the local Hub stand-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHubServer } from './hub-server';
import { makeTrackedRun } from './tracked-run';
import { runCli } from './cli-helpers';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-upload-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = path.join(e.parentPath, e.name);
      m.set(p, fs.readFileSync(p).toString('base64'));
    }
  }
  return m;
}

test('reclin upload --hf-token sends the run; the token appears in no file and no output', async () => {
  const { dir } = await makeTrackedRun(tmp, 'up1');
  const hub = await startHubServer();
  try {
    const r = await runCli(['upload', dir, '--hf-repo', 'reclin-test/up1', '--hf-token', hub.token, '--hub-url', hub.url, '--private'], { env: { HF_TOKEN: undefined, HF_ENDPOINT: undefined } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created http:\/\/127\.0\.0\.1:\d+\/reclin-test\/up1 \(private\): 12 files/);
    assert.match(r.stdout, /commit [0-9a-f]{40}/);
    const repo = hub.repos.get('reclin-test/up1')!;
    assert.equal(repo.private, true);
    assert.ok(repo.files.get('model.safetensors')!.equals(fs.readFileSync(path.join(dir, 'checkpoints/step_000002/model/model.safetensors'))));
    assert.deepEqual(hub.unknown, []);
    assert.ok(!r.stdout.includes(hub.token) && !r.stderr.includes(hub.token), 'token printed');
    for (const [f, b64] of snapshot(tmp)) assert.ok(!Buffer.from(b64, 'base64').includes(hub.token), `${f} holds the token`);
  } finally {
    await hub.close();
  }
});

test('reclin upload reads HF_TOKEN and HF_ENDPOINT; --dry-run lists files and sizes and sends nothing', async () => {
  const { dir } = await makeTrackedRun(tmp, 'up2');
  const hub = await startHubServer();
  try {
    const dry = await runCli(['upload', dir, '--hf-repo', 'reclin-test/up2', '--dry-run'], { env: { HF_TOKEN: undefined, HF_ENDPOINT: hub.url } });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would upload to http:\/\/127\.0\.0\.1:\d+\/reclin-test\/up2 \(model from checkpoint step 2\)/);
    const size = fs.statSync(path.join(dir, 'checkpoints/step_000002/model/model.safetensors')).size;
    assert.match(dry.stdout, new RegExp(`model\\.safetensors .*\\(${size} bytes\\)`));
    assert.match(dry.stdout, /logs\/events\.out\.tfevents/);
    assert.match(dry.stdout, /12 files, .*nothing was sent/);
    assert.deepEqual(hub.requests, []);
    const real = await runCli(['upload', dir, '--hf-repo', 'reclin-test/up2'], { env: { HF_TOKEN: hub.token, HF_ENDPOINT: hub.url } });
    assert.equal(real.code, 0, real.stderr);
    assert.equal(hub.repos.get('reclin-test/up2')!.files.size, 12);
    assert.ok(!real.stdout.includes(hub.token) && !real.stderr.includes(hub.token));
  } finally {
    await hub.close();
  }
});

test('reclin upload errors: missing token, bad repo id, bad URL, not an experiment — clear message, exit 1, nothing written', async () => {
  const { dir } = await makeTrackedRun(tmp, 'up3');
  const before = snapshot(dir);
  const env = { HF_TOKEN: undefined, HF_ENDPOINT: 'http://127.0.0.1:9' };
  const cases: [string[], RegExp][] = [
    [['upload', dir, '--hf-repo', 'a/b'], /^reclin: token: no Hugging Face access token; pass --hf-token or set HF_TOKEN/],
    [['upload', dir, '--hf-repo', 'a/b', '--hf-token', 'not-a-token'], /^reclin: token: a Hugging Face access token starts with 'hf_'/],
    [['upload', dir, '--hf-repo', 'no-namespace', '--dry-run'], /^reclin: repo: expected "namespace\/name".*got "no-namespace"/],
    [['upload', dir, '--hf-repo', 'a/b', '--hub-url', 'nope', '--dry-run'], /option '--hub-url <url>' argument 'nope' is invalid\. Expected an http\(s\) URL/],
    [['upload', dir, '--dry-run'], /required option '--hf-repo <id>' not specified/],
    [['upload', path.join(tmp, 'missing'), '--hf-repo', 'a/b', '--dry-run'], /^reclin: dir: .*missing is not a directory/],
    [['upload', dir, '--hf-repo', 'a/b', '--privat'], /unknown option '--privat'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { env });
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(!r.stderr.includes('not-a-token'), 'token echoed');
  }
  assert.deepEqual(snapshot(dir), before);
});
