// A small experiment directory written by hand in the layout of DESIGN.md, for tests of the tools that read one
// (upload, list, show, compare). Two checkpoints: step 2 (flagged best) and step 4 (newest, not best), with
// different model bytes so a test can tell which one was used.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface FixtureOptions {
  name?: string;
  /** Size of each model.safetensors (random bytes after a valid-looking header). */
  modelBytes?: number;
}

function write(file: string, data: string | Buffer) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function fakeSafetensors(size: number): Buffer {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [Math.floor((size - 64) / 4)], data_offsets: [0, Math.floor((size - 64) / 4) * 4] } }).padEnd(56, ' '));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, randomBytes(Math.max(0, size - 8 - header.length))]);
}

export function writeFixtureExperiment(root: string, opts: FixtureOptions = {}): string {
  const name = opts.name ?? 'fixture_run';
  const dir = path.join(root, name);
  const modelBytes = opts.modelBytes ?? 100_000;
  write(path.join(dir, 'experiment_metadata.json'), JSON.stringify({ id: 'fixture-id', name, description: 'fixture', status: 'completed' }, null, 2));
  write(path.join(dir, 'run_config.json'), JSON.stringify({ seed: 1, optimizer: { lr: 0.001 } }, null, 2));
  write(path.join(dir, 'recursive_config.json'), JSON.stringify({ recursive_enabled: true, chunk_width: 8 }, null, 2));
  write(path.join(dir, 'status.json'), JSON.stringify({ status: 'completed' }));
  write(path.join(dir, 'README.md'), `---\nlicense: apache-2.0\n---\n# ${name}\n`);
  for (const [step, best] of [[2, true], [4, false]] as const) {
    const c = path.join(dir, 'checkpoints', `step_${String(step).padStart(6, '0')}`);
    write(path.join(c, 'model', 'config.json'), JSON.stringify({ model_type: 'kimi_linear', hidden_size: 64, step }));
    write(path.join(c, 'model', 'model.safetensors'), fakeSafetensors(modelBytes));
    write(path.join(c, 'optimizer.safetensors'), fakeSafetensors(1000));
    write(path.join(c, 'trainer_state.json'), JSON.stringify({ step }));
    write(path.join(c, 'recursive_config.json'), JSON.stringify({ recursive_enabled: true }));
    write(path.join(c, 'checkpoint_metadata.json'), JSON.stringify({ step, is_best: best, metrics: { 'eval/loss': 3 - step / 10 } }));
  }
  write(path.join(dir, 'logs', 'events.out.tfevents.1700000000.host.1.0'), randomBytes(3000));
  write(path.join(dir, 'metrics', 'metrics.jsonl'), '{"step":1,"train/loss":3.1}\n{"step":2,"train/loss":2.9}\n');
  write(path.join(dir, 'notes', 'notes.txt'), '[Step 1] 2026-01-01T00:00:00Z: first note\n');
  write(path.join(dir, 'notes', 'issues.txt'), '');
  write(path.join(dir, 'notes', 'generation_samples.jsonl'), '{"step":2,"prompt":"1+1=","generated":"2"}\n');
  return dir;
}
