// reclin demo (npm start) end to end with a few steps: four run directories, the after-surgery check, the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './cli-helpers';

test('reclin demo runs the four stages, checks the surgery and prints the comparison', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-demo-'));
  try {
    const r = await runCli(['demo', '--base-steps', '4', '--finetune-steps', '2', '--batch-size', '4', '--eval-examples', '8'], { cwd: tmp, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /after-surgery check passed: token accuracy identical, eval\/loss equal to the base within/);
    assert.match(r.stdout, /\nstage\s+steps\s+eval\/loss\s+eval\/token_accuracy\s+eval\/exact_match\s+seconds\n1\/4 base\s+4\s+[\d.]+/);
    assert.match(r.stdout, /\n4\/4 phase a\s+2\s+[\d.]+/);
    assert.match(r.stdout, /phase a vs control, same steps from the same base: exact match [+-]\d/);
    const [demo] = fs.readdirSync(path.join(tmp, 'experiments'));
    for (const stage of ['base', 'after_surgery', 'control', 'phase_a']) {
      const meta = JSON.parse(fs.readFileSync(path.join(tmp, 'experiments', demo, stage, 'experiment_metadata.json'), 'utf8'));
      assert.equal(meta.status, 'completed', stage);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
