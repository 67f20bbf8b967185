// reclin demo (npm start) end to end with a few steps and two seeds: four run directories per seed, the
// after-surgery check, the per-seed table, the arm means and the closing verdict sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './cli-helpers';

test('reclin demo runs the four stages per seed, checks the surgery and ends with the paired verdict', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-demo-'));
  try {
    const r = await runCli(['demo', '--seeds', '0-1', '--base-steps', '4', '--finetune-steps', '2', '--batch-size', '4', '--eval-examples', '8'], { cwd: tmp, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.match(/after-surgery check passed: token accuracy identical, eval\/loss equal to the base within/g)?.length, 2);
    assert.match(r.stdout, /\nseed\s+stage\s+steps\s+eval\/loss\s+eval\/token_accuracy\s+eval\/exact_match\s+seconds\n0\s+1\/4 base\s+4\s+[\d.]+/);
    assert.match(r.stdout, /\n1\s+4\/4 phase a\s+2\s+[\d.]+/);
    assert.match(r.stdout, /eval\/exact_match\s+phase a\s+[\d.]+ \([-\d.]+ to [-\d.]+\), sd [\d.]+/);
    assert.match(r.stdout, /the smallest p 2 seeds can give is 0\.50/);
    // The last line is the verdict.
    assert.match(r.stdout.trimEnd().split('\n').at(-1)!, /^phase a − control on eval\/exact_match: [+−]?[\d.]+ (\(95% CI [+−]?[\d.]+ to [+−]?[\d.]+\), p (= [\d.]+|< 0\.001),? )?.*n = 2 seeds: /);
    const [demo] = fs.readdirSync(path.join(tmp, 'experiments'));
    for (const seed of [0, 1]) {
      for (const stage of ['base', 'after_surgery', 'control', 'phase_a']) {
        const meta = JSON.parse(fs.readFileSync(path.join(tmp, 'experiments', demo, `seed_${seed}`, stage, 'experiment_metadata.json'), 'utf8'));
        assert.equal(meta.status, 'completed', `seed ${seed} ${stage}`);
      }
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'experiments', demo, 'seed_1', 'control', 'run_config.json'), 'utf8'));
    assert.equal(cfg.seed, 1);

    // The numbers, read back from each stage's own metrics file (not through the demo's code): the printed table
    // shows them, the surgery left the base's predictions unchanged, and the arm means are those of the files.
    const lastEval = (seed: number, stage: string): Record<string, number> => {
      const file = path.join(tmp, 'experiments', demo, `seed_${seed}`, stage, 'metrics', 'metrics.jsonl');
      const out: Record<string, number> = {};
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        for (const [k, v] of Object.entries(JSON.parse(line).metrics as Record<string, unknown>)) if (k.startsWith('eval/') && typeof v === 'number') out[k] = v;
      }
      return out;
    };
    const keys = ['eval/loss', 'eval/token_accuracy', 'eval/exact_match'];
    const stages: [string, string][] = [['1/4 base', 'base'], ['2/4 after surgery', 'after_surgery'], ['3/4 control', 'control'], ['4/4 phase a', 'phase_a']];
    for (const seed of [0, 1]) {
      for (const [label, stage] of stages) {
        const row = r.stdout.split('\n').find((l) => l.startsWith(`${seed}  `) && l.includes(label));
        assert.ok(row, `table row for seed ${seed} ${label}`);
        const cells = row!.slice(row!.indexOf(label) + label.length).trim().split(/\s+/);
        const e = lastEval(seed, stage);
        keys.forEach((k, i) => assert.equal(cells[1 + i], e[k].toFixed(4), `seed ${seed} ${stage} ${k}: table vs metrics file`));
      }
      const base = lastEval(seed, 'base');
      const surg = lastEval(seed, 'after_surgery');
      assert.equal(surg['eval/token_accuracy'], base['eval/token_accuracy'], `seed ${seed}: surgery changed token accuracy`);
      assert.ok(Math.abs(surg['eval/loss'] - base['eval/loss']) <= 1e-5 * Math.abs(base['eval/loss']), `seed ${seed}: eval/loss ${base['eval/loss']} → ${surg['eval/loss']} after surgery`);
    }
    for (const [arm, stage] of [['control', 'control'], ['phase a', 'phase_a']]) {
      const mean = (lastEval(0, stage)['eval/exact_match'] + lastEval(1, stage)['eval/exact_match']) / 2;
      assert.match(r.stdout, new RegExp(`eval/exact_match\\s+${arm}\\s+${mean.toFixed(4).replace('.', '\\.')}[ ,]`), `${arm} mean exact match ${mean}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('reclin demo refuses a bad seed list', async () => {
  const r = await runCli(['demo', '--seeds', '2-0'], { cwd: os.tmpdir() });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--seeds: got "2-0", "2-0" ends before it starts/);
});
