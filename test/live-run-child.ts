// A live run in its own process, for the records tests: `node --import tsx test/live-run-child.ts <parent> <name>`.
// Logs a metric every 20 ms (heartbeat 50 ms) and a note of its own every 10 steps, prints "ready <dir>" once
// running, and closes when the file <dir>/stop appears (or runs until killed).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExperimentTracker } from '../src/experiment';

async function main(): Promise<void> {
  const [parent, name] = process.argv.slice(2);
  const tr = await ExperimentTracker.create({ name, dir: parent, heartbeatMs: 50, tensorboard: false, runConfig: { num_steps: 1_000_000 } });
  process.stdout.write(`ready ${tr.dir}\n`);
  for (let step = 1; !fs.existsSync(path.join(tr.dir, 'stop')); step++) {
    tr.logMetrics({ 'train/loss': 1 / step }, step);
    if (step % 10 === 0) tr.addNote(`from the run at step ${step}`, step);
    await new Promise((r) => setTimeout(r, 20));
  }
  await tr.close('completed');
}

void main();
