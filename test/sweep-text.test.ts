// The real-text path: a base trained on a real text file (the repository's README, byte tokenizer), then a
// sweep of control (phase baseline) against phase a from that base over two seeds, and compare's paired verdict:
// the same statistics as for the synthetic tasks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, runCli } from './cli-helpers';
import { TINY_MODEL } from './sweep-fixtures';

test('baseline vs phase a on a real text file, paired over seeds', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-text-'));
  try {
    const text = path.join(repoRoot, 'README.md');
    fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(TINY_MODEL));
    // Sequences of 48 bytes, the refined chunk the last 16 of them.
    fs.writeFileSync(path.join(tmp, 'run.json'), JSON.stringify({ batch_size: 4, data: { seq_len: 48, eval_examples: 4 }, schedule: { warmup_steps: 0 }, intervals: { log: 2, eval: 4, save: 4 } }));
    fs.writeFileSync(path.join(tmp, 'off.json'), JSON.stringify({ recursive_enabled: false, chunk_width: 16, max_chunk_len: 16 }));
    const base = await runCli(['run', '--run-config', 'run.json', '--recursive-config', 'off.json', '--model-config', 'model.json', '--data-path', text, '--num-steps', '6', '--experiment-name', 'base'], { cwd: tmp });
    assert.equal(base.code, 0, base.stdout + base.stderr);
    const small = ['recursive.chunk_width=16', 'recursive.max_chunk_len=16', 'recursive.d_state=16', 'recursive.gate_hidden=32', 'recursive.use_latent_token=false'].flatMap((s) => ['--set', s]);
    const sweep = await runCli(['sweep', '--run-config', 'run.json', '--data-path', text, '--model-path', 'experiments/base', '--num-steps', '4', '--seeds', '0-1', '--set', 'phase=baseline,a', ...small, '--sweep-name', 'text'], { cwd: tmp, timeoutMs: 240_000 });
    assert.equal(sweep.code, 0, sweep.stdout + sweep.stderr);
    assert.match(sweep.stdout, /4\/4 cells completed/);
    const cmp = await runCli(['compare', 'experiments/text'], { cwd: tmp });
    assert.equal(cmp.code, 0, cmp.stderr);
    assert.match(cmp.stdout, /groups \(by the sweep's grid; reference phase=baseline\):\n  phase=baseline: 2 run\(s\), seeds 0, 1\n  phase=a: 2 run\(s\), seeds 0, 1/);
    assert.match(cmp.stdout, /\nphase=a − phase=baseline on eval\/token_accuracy: .*, n = 2 seeds: /);
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'experiments', 'text', 'phase-a_s1', 'run_config.json'), 'utf8'));
    assert.equal(cfg.data.train, text);
    assert.equal(cfg.seed, 1);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
