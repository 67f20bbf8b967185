// What ships: a LICENSE with the full text of the license package.json names, the guides in docs/, and a model
// card that links to no page (reclin has no public page a link could point at).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker } from '../src/experiment';
import { repoRoot } from './cli-helpers';

test('LICENSE holds the full Apache-2.0 text that package.json names', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'Apache-2.0');
  const text = fs.readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8');
  assert.match(text, /^ {33}Apache License\n {27}Version 2\.0, January 2004\n/);
  assert.ok(text.includes('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION') && text.includes('END OF TERMS AND CONDITIONS'));
  for (let i = 1; i <= 9; i++) assert.match(text, new RegExp(`\\n {3}${i}\\. [A-Z]`), `section ${i}`);
  // Word for word the standard text (apache.org/licenses/LICENSE-2.0.txt), compared with spacing normalised.
  const norm = text.replace(/\s+/g, ' ').trim();
  assert.equal(crypto.createHash('sha256').update(norm).digest('hex'), '0ffddef9e48f8a09aed5caf2d44f7ba1c1be2d9b8e0a6f693b1635b2d5566645');
});

test('the package ships docs/, LICENSE and README.md (npm pack)', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
  const docs = fs.readdirSync(path.join(repoRoot, 'docs'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  assert.ok(docs.length > 0);
  for (const d of docs) {
    const rel = path.relative(repoRoot, path.join(d.parentPath, d.name)).split(path.sep).join('/');
    assert.ok(files.includes(rel), `${rel} ships`);
  }
  assert.ok(files.includes('LICENSE') && files.includes('README.md'));
});

test('the model card links to no web page', async () => {
  const tr = await ExperimentTracker.create({ name: 'card', dir: fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-card-')), tensorboard: false, runConfig: { phase: 'a', model: { path: 'moonshotai/Kimi-Linear-48B-A3B-Base' } } });
  tr.logMetrics({ 'eval/loss': 1 }, 1);
  tr.addNote('see https://example.org for the plan', 1); // the user's own words are theirs
  await tr.close();
  const card = fs.readFileSync(path.join(tr.dir, 'README.md'), 'utf8').replace('see https://example.org for the plan', '');
  assert.ok(!/https?:\/\//.test(card), 'no URL of ours in the card');
  assert.ok(!/\]\(/.test(card), 'no markdown link');
});
