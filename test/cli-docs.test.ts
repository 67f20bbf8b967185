// Every command in docs/EXPERIMENT_GUIDE.md and docs/README_EXPERIMENTS.md is run, in order, in a fresh folder.
// Every line of a ```sh block must be an `npx reclin` command (as a reader types it). To keep this fast, a few values are cut down, and only
// these: --num-steps to at most 3 and --batch-size to at most 2 for `run` and `sweep`, a run config with a micro
// model and a one-batch evaluation added to `run` and `sweep` lines (flags still override it), two seeds for
// `sweep`, and small settings for `demo`.
// Uploads go to the local Hub stand-in (HF_ENDPOINT, HF_TOKEN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, repoRoot } from './cli-helpers';
import { startHubServer, type LocalHub } from './hub-server';

let tmp: string;
let hub: LocalHub;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-docs-'));
  hub = await startHubServer({ user: 'your-name' });
});
after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Splits a command line like a POSIX shell does for plain words and quoted strings. */
function shellWords(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]);
  return out;
}

function commandsOf(doc: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, 'docs', doc), 'utf8');
  const cmds: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) if (line.trim() && !line.trim().startsWith('#')) cmds.push(line.trim());
  }
  return cmds;
}

function cutDown(args: string[], dir: string): string[] {
  const a = [...args];
  const cap = (flag: string, max: number) => {
    const i = a.indexOf(flag);
    if (i >= 0) a[i + 1] = String(Math.min(Number(a[i + 1]), max));
  };
  if (a[0] === 'run') {
    cap('--num-steps', 3);
    cap('--batch-size', 2);
    if (!a.includes('--num-steps')) a.push('--num-steps', '3');
    if (!a.includes('--run-config')) a.push('--run-config', path.join(dir, 'fast.json'));
  }
  if (a[0] === 'demo') a.push('--seeds', '0-1', '--base-steps', '4', '--finetune-steps', '2', '--batch-size', '4', '--eval-examples', '8');
  if (a[0] === 'sweep') {
    cap('--num-steps', 3);
    cap('--batch-size', 2);
    const i = a.indexOf('--seeds');
    if (i >= 0) a[i + 1] = '0-1';
    if (!a.includes('--run-config')) a.push('--run-config', path.join(dir, 'fast.json'));
  }
  return a;
}

async function runDoc(doc: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(tmp, 'doc-'));
  fs.cpSync(path.join(repoRoot, 'configs'), path.join(dir, 'configs'), { recursive: true });
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  const micro = { ...tiny, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16 };
  micro.linear_attn_config = { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] };
  fs.writeFileSync(path.join(dir, 'micro.json'), JSON.stringify(micro));
  fs.writeFileSync(path.join(dir, 'fast.json'), JSON.stringify({ model: { config: path.join(dir, 'micro.json') }, data: { eval_examples: 4 }, schedule: { warmup_steps: 1 } }));
  const cmds = commandsOf(doc);
  assert.ok(cmds.length > 0, `${doc} shows no commands`);
  for (const line of cmds) {
    const words = shellWords(line);
    assert.deepEqual(words.slice(0, 2), ['npx', 'reclin'], `${doc}: every command shown must be an \`npx reclin\` command the test can run, got: ${line}`);
    const r = await runCli(cutDown(words.slice(2), dir), { cwd: dir, env: { HF_TOKEN: hub.token, HF_ENDPOINT: hub.url }, timeoutMs: 300_000 });
    assert.equal(r.code, 0, `${doc}: \`${line}\` failed:\n${r.stdout}\n${r.stderr}`);
  }
}

/** The runs a guide compares (by `reclin compare a b`) were all run with the same, explicit --seed. */
function assertSameSeeds(doc: string): void {
  const cmds = commandsOf(doc).map(shellWords);
  const seedOf = new Map<string, string | undefined>();
  for (const w of cmds.filter((c) => c[2] === 'run')) {
    const name = w[w.indexOf('--experiment-name') + 1];
    const i = w.indexOf('--seed');
    seedOf.set(`experiments/${name}`, i >= 0 ? w[i + 1] : undefined);
  }
  // A sweep is compared by its folder: its cells are paired by the --seeds of the sweep itself.
  const sweeps = new Set(cmds.filter((c) => c[2] === 'sweep').map((w) => `experiments/${w[w.indexOf('--sweep-name') + 1]}`));
  for (const w of cmds.filter((c) => c[2] === 'compare')) {
    const dirs = w.slice(3).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--html'));
    if (dirs.every((d) => sweeps.has(d))) continue;
    const seeds = dirs.map((d) => seedOf.get(d));
    assert.ok(seeds.every((s) => s !== undefined) && new Set(seeds).size === 1, `${doc}: compared runs ${dirs.join(', ')} must use one explicit --seed, got ${seeds}`);
  }
}

test('docs: the runs each guide compares use the same explicit seed', () => {
  for (const doc of ['README_EXPERIMENTS.md', 'EXPERIMENT_GUIDE.md']) assertSameSeeds(doc);
});

test('docs/README_EXPERIMENTS.md: every command runs', () => runDoc('README_EXPERIMENTS.md'));
test('docs/EXPERIMENT_GUIDE.md: every command runs', async () => {
  await runDoc('EXPERIMENT_GUIDE.md');
  assert.ok(hub.repos.get('your-name/reclin-phase-a-001')?.private, 'the guide\'s upload arrived, private');
});
