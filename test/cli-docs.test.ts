// Every command in docs/EXPERIMENT_GUIDE.md and docs/README_EXPERIMENTS.md is run, in order, in a fresh folder.
// Every line of a ```sh block must be an `npx reclin` command (as a reader types it). To keep this fast, a few values are cut down, and only
// these: --num-steps to at most 3 and --batch-size to at most 2 for `run` and `sweep`, a run config with a micro
// model and a one-batch evaluation added to `run` and `sweep` lines (flags still override it), two seeds for
// `sweep`, and small settings for `demo`.
// Uploads go to the local Hub stand-in (HF_ENDPOINT, HF_TOKEN). Each `compare` table is checked number by number
// against the compared runs' metrics files.
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
  let tables = 0;
  for (const line of cmds) {
    const words = shellWords(line);
    assert.deepEqual(words.slice(0, 2), ['npx', 'reclin'], `${doc}: every command shown must be an \`npx reclin\` command the test can run, got: ${line}`);
    const r = await runCli(cutDown(words.slice(2), dir), { cwd: dir, env: { HF_TOKEN: hub.token, HF_ENDPOINT: hub.url }, timeoutMs: 300_000 });
    assert.equal(r.code, 0, `${doc}: \`${line}\` failed:\n${r.stdout}\n${r.stderr}`);
    // A compare of two or more runs (a sweep folder's compare prints statistics over seeds instead).
    const runDirs = words.slice(3).filter((w) => !w.startsWith('-') && fs.existsSync(path.join(dir, w, 'metrics'))).map((w) => path.join(dir, w));
    if (words[2] === 'compare' && runDirs.length >= 2) {
      checkCompareTable(`${doc}: \`${line}\``, r.stdout, runDirs);
      tables++;
    }
  }
  assert.ok(tables > 0, `${doc}: no compare of runs whose table could be checked`);
}

/** The last logged value and step of every metric in a run's metrics file. */
function finalValues(runDir: string): Map<string, { value: number; step: number }> {
  const out = new Map<string, { value: number; step: number }>();
  for (const line of fs.readFileSync(path.join(runDir, 'metrics', 'metrics.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { step: number; metrics: Record<string, number> };
    for (const [k, v] of Object.entries(r.metrics)) if (typeof v === 'number') out.set(k, { value: v, step: r.step });
  }
  return out;
}

/**
 * Every "final @step" cell of compare's metrics table is the run's last logged value at that step, read from
 * its metrics file here (perf/* rows are means, left out). The table prints 6 significant digits.
 */
function checkCompareTable(what: string, stdout: string, runDirs: string[]): void {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => /^metric\s{2,}/.test(l));
  assert.ok(head >= 0, `${what}: no metrics table in:\n${stdout}`);
  const finals = runDirs.map(finalValues);
  let checked = 0;
  for (const line of lines.slice(head + 1)) {
    if (!line.trim()) break;
    const cells = line.trim().split(/\s{2,}/);
    const metric = cells[0].replace(/ \((min|max)\)$/, '');
    if (metric.startsWith('perf/')) continue;
    // Columns: metric, then per run "final" and "best".
    runDirs.forEach((dir, i) => {
      const m = /^(\S+) @(\d+)$/.exec(cells[1 + 2 * i] ?? '');
      const want = finals[i].get(metric);
      if (!want) {
        assert.ok(!m, `${what}: ${metric} printed for ${dir}, whose metrics file never logs it`);
        return;
      }
      assert.ok(m, `${what}: ${metric} of ${dir}: expected "value @step", got ${JSON.stringify(cells[1 + 2 * i])}`);
      assert.equal(Number(m[2]), want.step, `${what}: ${metric} of ${dir}: step`);
      const got = Number(m[1]);
      assert.ok(Math.abs(got - want.value) <= 5e-6 * Math.abs(want.value) + 1e-12, `${what}: ${metric} of ${dir}: printed ${m[1]}, metrics file ${want.value}`);
      checked++;
    });
  }
  assert.ok(checked >= 2 * runDirs.length, `${what}: only ${checked} values checked`);
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
