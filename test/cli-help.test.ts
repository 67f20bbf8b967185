// `reclin run --help` states the default of every option (taken from the run config schema, so they agree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunConfig } from '../src/experiment';
import { runCli } from './cli-helpers';

test('reclin run --help shows a default for every option, equal to the run config defaults', async () => {
  const r = await runCli(['run', '--help'], { env: { COLUMNS: '200' } });
  assert.equal(r.code, 0, r.stderr);
  const options = r.stdout.split('Options:\n')[1].split('\n\n')[0];
  const entries = options.split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, ' ').trim());
  assert.ok(entries.length > 20, `parsed ${entries.length} options`);
  for (const e of entries) if (!e.startsWith('-h, --help')) assert.match(e, /\bdefault:? [^)\s]/, `no default shown: ${e}`);
  const d = parseRunConfig({}, 'defaults');
  const shown = (flag: string) => new RegExp(`^${flag} .*\\(default: ([^)]*)\\)`).exec(entries.find((e) => e.startsWith(`${flag} `))!)?.[1];
  assert.equal(shown('--num-steps'), String(d.num_steps));
  assert.equal(shown('--batch-size'), String(d.batch_size));
  assert.equal(shown('--lr'), String(d.optimizer.lr));
  assert.equal(shown('--warmup-steps'), String(d.schedule.warmup_steps));
  assert.equal(shown('--seed'), String(d.seed));
  assert.equal(shown('--phase'), d.phase);
  assert.match(r.stdout, /With --run-config FILE, the file's fields replace them/);
});
