// One writer per experiment directory. The lock is a file created with O_EXCL holding the owner's pid, host
// and process start time; a lock whose process is gone (same host: the pid is dead or now belongs to another
// process) is stale and may be taken over. Locks of other hosts are judged by the run's heartbeat instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsyncDir } from '../format/atomic';

export const LOCK_FILE = '.lock';

export interface LockInfo {
  pid: number;
  host: string;
  /** Linux process start time (clock ticks since boot), to tell a live owner from a recycled pid. */
  proc_start: string | null;
  acquired_at: string;
  run_id?: string;
}

export class LockError extends Error {
  readonly holder: LockInfo | undefined;
  constructor(message: string, holder?: LockInfo) {
    super(message);
    this.name = 'LockError';
    this.holder = holder;
  }
}

/** Start time of a process from /proc (Linux); null where unavailable. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `info` is still alive on this host (true = alive, false = gone). */
export function ownerAlive(info: { pid: number; proc_start?: string | null }): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(info.pid);
  return !(info.proc_start && now && now !== info.proc_start);
}

export function readLock(dir: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * Takes the directory's lock or throws LockError naming the holder. `isStaleElsewhere` decides for a lock
 * held on another host (e.g. from the run's heartbeat age).
 */
export function acquireLock(dir: string, runId: string | undefined, isStaleElsewhere: (holder: LockInfo) => boolean = () => false): LockInfo {
  const file = path.join(dir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), proc_start: processStartTime(process.pid), acquired_at: new Date().toISOString(), run_id: runId };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const kind = fs.lstatSync(file, { throwIfNoEntry: false });
      if (kind && !kind.isFile()) {
        throw new LockError(`${file} is a ${kind.isDirectory() ? 'directory' : kind.isSymbolicLink() ? 'symbolic link' : 'special file'}, not a lock file; nothing was changed. Remove it if no process is writing ${dir}.`);
      }
      const holderText = (() => {
        try {
          return fs.readFileSync(file, 'utf8');
        } catch {
          return undefined;
        }
      })();
      if (holderText === undefined) continue; // released meanwhile: try again
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(holderText) as LockInfo;
      } catch {
        holder = undefined;
      }
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      const stale = holder
        ? holder.host === os.hostname()
          ? !ownerAlive(holder)
          : isStaleElsewhere(holder)
        : age > 10_000; // an empty lock older than 10 s: its writer died between create and write
      if (!stale) {
        const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.acquired_at}` : 'a process that is creating it';
        throw new LockError(`${dir} is locked by ${who} (${file}); a second writer is refused. Wait for that run to finish, or stop it.`, holder);
      }
      // Take over a stale lock: move it aside (atomic), check we moved the one we judged, then retry.
      const aside = `${file}.stale-${process.pid}-${Date.now()}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = fs.readFileSync(aside, 'utf8');
      if (moved !== holderText) {
        // Someone else took it over between our read and rename: give theirs back and refuse.
        try {
          fs.linkSync(aside, file);
        } catch {
          // they (or a third writer) already hold a new lock
        }
        fs.rmSync(aside, { force: true });
        throw new LockError(`${dir}: another process took over the stale lock at the same time; a second writer is refused.`);
      }
      fs.rmSync(aside, { force: true });
      continue;
    }
    try {
      fs.writeSync(fd, JSON.stringify(mine) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fsyncDir(dir);
    return mine;
  }
  throw new LockError(`${dir}: could not take the lock (${file}) after a stale lock was removed; try again.`);
}

/** Removes the lock if this process holds it. */
export function releaseLock(dir: string): void {
  const held = readLock(dir);
  if (held && held.pid === process.pid && held.host === os.hostname()) fs.rmSync(path.join(dir, LOCK_FILE), { force: true });
}
