// reclin list [--experiment-dir DIR] [--json]: every run under the experiments folder (also those nested in a
// demo or sweep folder, named by their path below it) with its status; a run
// recorded as `running` whose process is gone (or whose heartbeat stopped) is flagged stale, with the reason.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listExperiments } from '../experiment';
import { CliError } from './errors';

export function register(program: Command): void {
  program
    .command('list')
    .description('list the runs under an experiments folder, nested ones included, with their status (stale "running" runs flagged)')
    .option('--experiment-dir <dir>', 'folder holding the experiments', './experiments')
    .option('--json', 'print the listing as JSON', false)
    .action((o: { experimentDir: string; json: boolean }) => {
      const parent = path.resolve(o.experimentDir);
      if (fs.existsSync(parent) && !fs.statSync(parent).isDirectory()) throw new CliError(`--experiment-dir: ${o.experimentDir} is not a directory`);
      const runs = listExperiments(parent);
      if (o.json) {
        process.stdout.write(JSON.stringify(runs.map((r) => ({ name: r.name, dir: r.dir, id: r.id, status: r.status, stale: r.stale, reason: r.reason, phase: r.phase, step: r.step, created_at: r.created_at })), null, 2) + '\n');
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`no experiments under ${parent}\n`);
        return;
      }
      const rows = [['NAME', 'STATUS', 'PHASE', 'STEP', 'CREATED'], ...runs.map((r) => [r.name, r.stale ? 'STALE' : r.status, r.phase ?? '-', r.step === null ? '-' : String(r.step), r.created_at ?? '-'])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
      for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n');
      for (const r of runs.filter((x) => x.stale || x.status === 'unknown')) process.stdout.write(`${r.name}: ${r.reason}${r.stale ? `; continue it with \`reclin resume ${r.dir}\`` : ''}\n`);
    });
}
