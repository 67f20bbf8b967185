// One cell of a sweep, in its own process (started by the local scheduler or as a Slurm array task): a new run,
// the resumption of an interrupted, failed or killed one, or nothing when it has completed. Re-running a cell is
// therefore always safe, which is what makes a sweep resumable by re-running the same command.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRecursiveConfig, loadRunConfig, readRunStatus } from '../experiment';
import { CliError } from './errors';
import { startRun, resumeRun, type RunOutcome } from './runner';
import { readManifest, type ManifestCell } from './sweep-manifest';

/** Set by the local scheduler: the cell interrupts itself (checkpoint, status `interrupted`) if the sweep dies. */
export const PARENT_ENV = 'RECLIN_SWEEP_PARENT_PID';

function watchParent(): void {
  const want = Number(process.env[PARENT_ENV]);
  if (!Number.isInteger(want) || want <= 0) return;
  const timer = setInterval(() => {
    // Re-parented (the sweep was killed): stop like a Ctrl-C, so the cell is saved and marked interrupted.
    if (process.ppid !== want) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, 500);
  timer.unref();
}

function findCell(sweepDir: string, which: string): ManifestCell {
  const m = readManifest(sweepDir);
  const cell = /^\d+$/.test(which) ? m.cells[Number(which)] : m.cells.find((c) => c.name === which);
  if (!cell) throw new CliError(`cell: ${JSON.stringify(which)} is not a cell of ${sweepDir} (${m.cells.length} cells: indices 0-${m.cells.length - 1} or their names)`);
  return cell;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCell(sweepDir: string, which: string, command: string[]): Promise<RunOutcome | { dir: string; status: 'completed'; step: number; skipped: true }> {
  watchParent();
  const cell = findCell(sweepDir, which);
  const dir = path.join(sweepDir, cell.name);
  const say = (t: string) => process.stdout.write(`${t}\n`);
  if (fs.existsSync(dir) && !fs.existsSync(path.join(dir, 'experiment_metadata.json'))) {
    // Killed between creating the folder and writing its metadata: nothing to resume; keep it aside, start anew.
    const aside = `${dir}.incomplete-${Date.now()}`;
    fs.renameSync(dir, aside);
    say(`cell ${cell.name}: ${dir} had no metadata (killed while being created); moved to ${aside}`);
  }
  if (fs.existsSync(dir)) {
    // A cell still shutting down (its sweep was just killed) holds the run: wait for it to finish saving.
    for (let waited = 0; readRunStatus(dir).status === 'running'; waited += 500) {
      if (waited >= 120_000) throw new CliError(`cell ${cell.name}: ${dir} is still running in another process after 2 minutes; not starting a second writer`);
      if (waited === 0) say(`cell ${cell.name}: waiting for the process that still runs it to stop`);
      await sleep(500);
    }
    const st = readRunStatus(dir);
    if (st.status === 'completed') {
      say(`cell ${cell.name}: already completed, not re-run`);
      return { dir, status: 'completed', step: st.recorded?.step ?? 0, skipped: true };
    }
    say(`cell ${cell.name}: resuming (${st.stale ? 'stale' : st.status})`);
    return resumeRun(dir, { command, label: `[${cell.name}]`, say });
  }
  const runFile = path.join(sweepDir, cell.run_config);
  const recFile = path.join(sweepDir, cell.recursive_config);
  return startRun({
    name: cell.name,
    parentDir: sweepDir,
    description: `sweep ${path.basename(sweepDir)}: ${cell.group}, seed ${cell.seed}`,
    runConfig: loadRunConfig(runFile),
    recursiveConfig: loadRecursiveConfig(recFile),
    recursiveConfigPath: recFile,
    runConfigPath: runFile,
    command,
    label: `[${cell.name}]`,
    say,
  });
}
