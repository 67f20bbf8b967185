// uploadExperiment with the real @huggingface/hub client against the local Hub stand-in (test/hub-server.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { uploadExperiment, networkFailure, UploadError, RepoIdError, UploadPlanError } from '../src/hub';
import { startHubServer, type LocalHub } from './hub-server';
import { makeTrackedRun } from './tracked-run';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-hub-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? (e as any).path, e.name));
}

/** What the repo must hold: the best checkpoint's model at the root plus the experiment's record. */
function expectedFiles(dir: string, step: number): Map<string, Buffer> {
  const c = path.join(dir, 'checkpoints', `step_${String(step).padStart(6, '0')}`);
  const m = new Map<string, Buffer>();
  m.set('config.json', fs.readFileSync(path.join(c, 'model', 'config.json')));
  m.set('model.safetensors', fs.readFileSync(path.join(c, 'model', 'model.safetensors')));
  m.set('checkpoint_metadata.json', fs.readFileSync(path.join(c, 'checkpoint_metadata.json')));
  for (const f of ['README.md', 'experiment_metadata.json', 'run_config.json', 'recursive_config.json']) m.set(f, fs.readFileSync(path.join(dir, f)));
  for (const sub of ['metrics', 'notes', 'logs']) {
    for (const f of allFiles(path.join(dir, sub))) m.set(path.relative(dir, f).split(path.sep).join('/'), fs.readFileSync(f));
  }
  return m;
}

async function withHub(opts: Parameters<typeof startHubServer>[0], fn: (hub: LocalHub) => Promise<void>) {
  const hub = await startHubServer(opts);
  try {
    await fn(hub);
    assert.deepEqual(hub.unknown, [], 'the client called endpoints the local hub does not implement');
  } finally {
    await hub.close();
  }
}

test('upload creates a private repo and sends every file byte-identical in one commit (LFS multipart included)', async () => {
  const { dir } = await makeTrackedRun(tmp, 'a', { modelFloats: 50_000 });
  await withHub({ multipartChunkSize: 64 * 1024 }, async (hub) => {
    const phases: string[] = [];
    const r = await uploadExperiment(dir, { repo: 'reclin-test/run-a', token: hub.token, private: true, hubUrl: hub.url, onPhase: (p) => phases.push(p) });
    assert.equal(r.created, true);
    assert.equal(r.checkpointStep, 2);
    assert.ok(r.commit?.oid && r.commit.url.startsWith(hub.url));
    assert.deepEqual(phases, ['preuploading', 'uploadingLargeFiles', 'committing']);
    // The only error answered is the 404 of the existence check before creating the repo.
    assert.deepEqual(hub.errors, ['404 GET /api/models/reclin-test/run-a?expand[]=likes: Repository not found']);
    const repo = hub.repos.get('reclin-test/run-a')!;
    assert.equal(repo.private, true);
    assert.equal(repo.commits.length, 1, 'one commit');
    const want = expectedFiles(dir, 2);
    assert.deepEqual([...repo.files.keys()].sort(), [...want.keys()].sort());
    for (const [p, bytes] of want) assert.ok(repo.files.get(p)!.equals(bytes), `${p} arrived byte-identical`);
    assert.equal(repo.modes.get('model.safetensors'), 'lfs');
    assert.equal(repo.modes.get('README.md'), 'regular');
    assert.ok(hub.requests.some((l) => /\/part\/\d+$/.test(l)), 'the large file went up in parts');
    assert.deepEqual(r.files.map((f) => f.path).sort(), [...want.keys()].sort());
    assert.equal(r.totalBytes, [...want.values()].reduce((s, b) => s + b.length, 0));
    // Nothing of the token anywhere in the run directory.
    for (const f of allFiles(dir)) assert.ok(!fs.readFileSync(f).includes(hub.token), `${f} holds the token`);
  });
});

test('upload to an existing repo makes a new commit without creating it again; HF_TOKEN and HF_ENDPOINT are read', async () => {
  const { dir } = await makeTrackedRun(tmp, 'b');
  await withHub({}, async (hub) => {
    const saved = { t: process.env.HF_TOKEN, e: process.env.HF_ENDPOINT };
    process.env.HF_TOKEN = hub.token;
    process.env.HF_ENDPOINT = hub.url;
    try {
      const first = await uploadExperiment(dir, { repo: 'reclin-test/run-b' });
      const second = await uploadExperiment(dir, { repo: 'reclin-test/run-b' });
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      const repo = hub.repos.get('reclin-test/run-b')!;
      assert.equal(repo.private, false);
      assert.equal(repo.commits.length, 2);
      assert.equal(hub.requests.filter((l) => l === 'POST /api/repos/create').length, 1);
    } finally {
      for (const [k, v] of [['HF_TOKEN', saved.t], ['HF_ENDPOINT', saved.e]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

test('dry run lists paths and sizes and contacts nobody; no token needed', async () => {
  const { dir } = await makeTrackedRun(tmp, 'c');
  await withHub({}, async (hub) => {
    const r = await uploadExperiment(dir, { repo: 'reclin-test/run-c', dryRun: true, hubUrl: hub.url });
    assert.equal(r.dryRun, true);
    assert.equal(r.commit, undefined);
    const want = expectedFiles(dir, 2);
    assert.deepEqual(new Map(r.files.map((f) => [f.path, f.size])), new Map([...want].map(([p, b]) => [p, b.length])));
    assert.deepEqual(hub.requests, []);
  });
});

test('a missing or malformed token is refused before any request, without echoing it', async () => {
  const { dir } = await makeTrackedRun(tmp, 'd');
  await withHub({}, async (hub) => {
    const saved = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      await assert.rejects(uploadExperiment(dir, { repo: 'reclin-test/x', hubUrl: hub.url }), (e: Error) => e instanceof UploadError && /no Hugging Face access token; pass --hf-token or set HF_TOKEN/.test(e.message));
      await assert.rejects(uploadExperiment(dir, { repo: 'reclin-test/x', hubUrl: hub.url, token: 'secret-not-hf' }), (e: Error) => e instanceof UploadError && /starts with 'hf_'/.test(e.message) && !e.message.includes('secret-not-hf'));
    } finally {
      if (saved !== undefined) process.env.HF_TOKEN = saved;
    }
    assert.deepEqual(hub.requests, []);
  });
});

test('a token the server rejects gives the HTTP status, not the token', async () => {
  const { dir } = await makeTrackedRun(tmp, 'e');
  await withHub({}, async (hub) => {
    const bad = 'hf_wrong_token_value';
    await assert.rejects(uploadExperiment(dir, { repo: 'reclin-test/run-e', hubUrl: hub.url, token: bad }), (e: Error) => {
      assert.ok(e instanceof UploadError);
      assert.match(e.message, /failed with HTTP 401: Invalid credentials/);
      assert.ok(!e.message.includes(bad));
      return true;
    });
    assert.equal(hub.repos.size, 0);
  });
});

test('bad repo ids, hub URLs and directories are named in the error', async () => {
  const { dir } = await makeTrackedRun(tmp, 'f');
  for (const repo of ['', 'noslash', 'a/b/c', 'ns/na--me', 'ns/-x', 'ns/x.git', 'ns/a b']) {
    await assert.rejects(uploadExperiment(dir, { repo, dryRun: true }), (e: Error) => e instanceof RepoIdError && e.message.startsWith('repo: expected "namespace/name"') && e.message.includes(JSON.stringify(repo)));
  }
  await assert.rejects(uploadExperiment(dir, { repo: 'a/b', dryRun: true, hubUrl: 'ftp://x' }), /hubUrl: expected an http\(s\) URL/);
  await assert.rejects(uploadExperiment(path.join(tmp, 'nope'), { repo: 'a/b', dryRun: true }), (e: Error) => e instanceof UploadPlanError && /is not a directory/.test(e.message));
  const ckpt = path.join(dir, 'checkpoints', 'step_000002', 'model', 'model.safetensors');
  const bytes = fs.readFileSync(ckpt);
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(ckpt, bytes);
  await assert.rejects(uploadExperiment(dir, { repo: 'a/b', dryRun: true }), /refusing to upload a damaged checkpoint: .*step_000002\/model\/model\.safetensors: corrupt \(sha256/);
  fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true });
  await assert.rejects(uploadExperiment(dir, { repo: 'a/b', dryRun: true }), /no complete checkpoint/);
  fs.rmSync(path.join(dir, 'README.md'));
  await assert.rejects(uploadExperiment(dir, { repo: 'a/b', dryRun: true }), /no model card \(README\.md\); write it with `reclin card/);
});

test('a namespace the token may not write to is a clear 403', async () => {
  const { dir } = await makeTrackedRun(tmp, 'g');
  await withHub({}, async (hub) => {
    await assert.rejects(uploadExperiment(dir, { repo: 'someone-else/run', hubUrl: hub.url, token: hub.token }), /HTTP 403: You don't have the rights/);
  });
});

test('a Hub that cannot be reached is named with the reason (a closed local port), not "fetch failed"', async () => {
  const { dir } = await makeTrackedRun(tmp, 'h');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const token = 'hf_unreachable_secret';
  await assert.rejects(uploadExperiment(dir, { repo: 'reclin-test/run-h', hubUrl: `http://127.0.0.1:${port}`, token }), (e: Error) => {
    assert.ok(e instanceof UploadError);
    assert.match(e.message, new RegExp(`could not reach 127\\.0\\.0\\.1:${port} while checking whether the repo exists: the connection was refused \\(nothing listens at that address and port\\) \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`));
    assert.ok(!e.message.includes('fetch failed') && !e.message.includes(token));
    return true;
  });
  assert.equal(networkFailure(new Error('plain')), null);
  assert.match(networkFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND hub.invalid'), { code: 'ENOTFOUND' }) }))!, /^the host name does not resolve \(DNS\) \(getaddrinfo ENOTFOUND hub\.invalid\)$/);
});
