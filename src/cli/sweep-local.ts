// Runs a sweep's unfinished cells on this machine, each in its own process (`reclin sweep-cell`), at most `jobs`
// at a time with `threads` OpenMP threads each (jobs x threads <= cores, checked by the caller). Prints one line
// per cell as it starts and ends, and an overall bar (redrawn on a terminal, a line per event otherwise).
// Ctrl-C / SIGTERM: no new cells start; the running ones get a SIGTERM, save a checkpoint and stop (a second
// Ctrl-C makes them quit at once); re-running the command resumes them.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMetrics } from '../experiment';
import { PARENT_ENV } from './sweep-cell';
import { observeCell, writeManifest, type Manifest, type ManifestCell } from './sweep-manifest';

export interface LocalOptions {
  jobs: number;
  threads: number;
  /** node arguments that start the reclin CLI (execArgv + the entry script). */
  cli: string[];
  out?: { write(s: string): unknown; isTTY?: boolean };
}

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}

/** The last evaluation of a run, for the cell's closing line. */
function lastEval(dir: string): string {
  const last: Record<string, number> = {};
  try {
    for (const r of readMetrics(dir)) for (const [k, v] of Object.entries(r.metrics)) if (k.startsWith('eval/')) last[k] = v;
  } catch {
    return '';
  }
  const keys = Object.keys(last).sort();
  return keys.length ? `, ${keys.map((k) => `${k} ${Number(last[k].toPrecision(4))}`).join(', ')}` : '';
}

export async function runLocal(sweepDir: string, m: Manifest, o: LocalOptions): Promise<{ completed: number; failed: string[]; interrupted: boolean; seconds: number }> {
  const out = o.out ?? process.stdout;
  const tty = !!out.isTTY;
  const t0 = Date.now();
  for (const c of m.cells) m.state[c.name] = observeCell(sweepDir, c, m.state[c.name]);
  const todo = m.cells.filter((c) => m.state[c.name].status !== 'completed');
  const total = m.cells.length;
  const running = new Map<string, ChildProcess>();
  const failed: string[] = [];
  let stopping = false;
  let barShown = false;

  const bar = () => {
    const done = m.cells.filter((c) => m.state[c.name].status === 'completed').length;
    const width = 24;
    const fill = Math.round((done / total) * width);
    return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} completed, ${running.size} running, ${failed.length} failed, elapsed ${fmtTime((Date.now() - t0) / 1000)}`;
  };
  const say = (line: string) => {
    if (tty && barShown) out.write('\r\x1b[K');
    out.write(`${line}\n`);
    if (tty) {
      out.write(bar());
      barShown = true;
    }
  };
  const showBar = () => {
    if (!tty) out.write(`${bar()}\n`);
  };

  say(`sweep ${sweepDir}: ${total} cells, ${total - todo.length} already completed, ${todo.length} to run; ${o.jobs} at a time x ${o.threads} thread${o.threads === 1 ? '' : 's'} each`);
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopping) say(`${sig}: no new cells start; the ${running.size} running one(s) save a checkpoint and stop (again to stop them at once; re-run the same command to resume)`);
    stopping = true;
    for (const child of running.values()) child.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  fs.mkdirSync(path.join(sweepDir, 'logs'), { recursive: true });

  const start = (cell: ManifestCell) =>
    new Promise<void>((resolve) => {
      const st = m.state[cell.name];
      const resuming = st.status !== 'pending';
      st.attempts += 1;
      st.started_at = new Date().toISOString();
      delete st.finished_at;
      delete st.error;
      const logFile = path.join(sweepDir, cell.log);
      const fd = fs.openSync(logFile, 'a');
      fs.writeSync(fd, `\n== ${st.started_at} attempt ${st.attempts}: ${resuming ? `resume (${st.status})` : 'start'}\n`);
      const started = Date.now();
      const child = spawn(process.execPath, [...o.cli, 'sweep-cell', sweepDir, cell.name], {
        env: { ...process.env, OMP_NUM_THREADS: String(o.threads), [PARENT_ENV]: String(process.pid) },
        stdio: ['ignore', fd, fd],
        // Its own process group: a terminal Ctrl-C reaches the sweep only, which forwards exactly one SIGTERM
        // (two signals would make a cell quit without its checkpoint).
        detached: true,
      });
      fs.closeSync(fd);
      running.set(cell.name, child);
      st.status = 'running';
      writeManifest(sweepDir, m);
      say(`start  ${cell.name}  (${cell.group}, seed ${cell.seed})${resuming ? ` resuming from step ${st.step ?? 0}` : ''}`);
      child.on('close', (code, signal) => {
        running.delete(cell.name);
        const now = observeCell(sweepDir, cell, st);
        now.finished_at = new Date().toISOString();
        now.seconds = (Date.now() - started) / 1000;
        if (now.status !== 'completed' && now.status !== 'interrupted' && !now.error) now.error = `cell process exited with ${signal ?? `code ${code}`}; see ${cell.log}`;
        if (now.status === 'running' || now.status === 'stale' || now.status === 'pending') now.status = 'failed';
        m.state[cell.name] = now;
        writeManifest(sweepDir, m);
        const dir = path.join(sweepDir, cell.name);
        if (now.status === 'completed') say(`done   ${cell.name}  completed in ${fmtTime(now.seconds)}${lastEval(dir)}`);
        else if (now.status === 'interrupted') say(`stop   ${cell.name}  interrupted at step ${now.step ?? 0}; re-run to resume`);
        else {
          failed.push(cell.name);
          say(`FAIL   ${cell.name}  ${now.status}: ${now.error ?? ''} (log ${path.join(sweepDir, cell.log)})`);
        }
        showBar();
        resolve();
      });
    });

  try {
    const queue = [...todo];
    const active = new Set<Promise<void>>();
    while (queue.length && !stopping) {
      while (active.size < o.jobs && queue.length && !stopping) {
        const p = start(queue.shift()!).then(() => {
          active.delete(p);
        });
        active.add(p);
      }
      if (active.size) await Promise.race(active);
    }
    await Promise.all(active);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty && barShown) out.write('\n');
  }
  const completed = m.cells.filter((c) => m.state[c.name].status === 'completed').length;
  return { completed, failed, interrupted: stopping, seconds: (Date.now() - t0) / 1000 };
}
