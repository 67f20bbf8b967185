// The Slurm launcher: one job array per submission, one array task per unfinished cell (the task id is the
// cell's index in sweep.json), each task running `reclin sweep-cell` (which starts, resumes or skips its cell),
// a log per task under logs/. Re-submitting skips completed cells and cells still queued or running in Slurm.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../format';
import { CliError } from './errors';
import type { Manifest } from './sweep-manifest';

export interface SlurmOptions {
  threads: number;
  /** At most this many tasks at once (the array's %limit); undefined: no limit. */
  maxParallel?: number;
  /** Extra sbatch options, one per #SBATCH line (e.g. --partition=debug, --time=01:00:00). */
  sbatchArgs: string[];
  /** node arguments that start the reclin CLI. */
  cli: string[];
}

const shq = (s: string) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** "0-2,5,7-8" from sorted indices. */
export function arraySpec(indices: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function slurmScript(sweepDir: string, m: Manifest, indices: number[], o: SlurmOptions): string {
  for (const a of o.sbatchArgs) if (!/^--?[A-Za-z]/.test(a) || /\n/.test(a)) throw new CliError(`--sbatch-arg: got ${JSON.stringify(a)}, allowed: one sbatch option such as --partition=debug or --time=01:00:00`);
  const array = `${arraySpec(indices)}${o.maxParallel ? `%${o.maxParallel}` : ''}`;
  return [
    '#!/bin/bash',
    `# reclin sweep ${m.name}: ${indices.length} of ${m.cells.length} cells; array task id = cell index in sweep.json.`,
    `#SBATCH --job-name=reclin-${m.name}`,
    `#SBATCH --array=${array}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${o.threads}`,
    `#SBATCH --output=${path.join(sweepDir, 'logs', 'slurm-%A_%a.out')}`,
    '#SBATCH --open-mode=append',
    ...o.sbatchArgs.map((a) => `#SBATCH ${a}`),
    'set -euo pipefail',
    `export OMP_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-${o.threads}}`,
    `cd ${shq(process.cwd())}`,
    '# Starts, resumes or skips the cell; a cancelled or timed-out task saves a checkpoint (SIGTERM) and is resumed by re-submitting.',
    `exec ${[process.execPath, ...o.cli].map(shq).join(' ')} sweep-cell ${shq(sweepDir)} "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

function run(cmd: string, args: string[]): { ok: boolean; stdout: string; stderr: string; error?: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return { ok: false, stdout: '', stderr: '', error: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} not found on PATH` : r.error.message };
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

/** Cell indices of earlier submissions still pending or running in Slurm (so they are not submitted twice). */
export function queuedIndices(m: Manifest): Set<number> {
  const ids = new Set((m.slurm ?? []).map((s) => s.job_id));
  const out = new Set<number>();
  if (ids.size === 0) return out;
  const r = run('squeue', ['-h', '-r', '-o', '%F %K']);
  if (!r.ok) throw new CliError(`squeue failed (${r.error ?? r.stderr.trim()}): cannot tell which cells of earlier submissions are still queued`);
  for (const line of r.stdout.split('\n')) {
    const [job, task] = line.trim().split(/\s+/);
    if (ids.has(job) && /^\d+$/.test(task ?? '')) out.add(Number(task));
  }
  return out;
}

/** Writes the script under slurm/ (every submitted script is kept) and submits it; returns the job id. */
export function submit(sweepDir: string, m: Manifest, script: string, array: string): string {
  const dir = path.join(sweepDir, 'slurm');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `submit-${(m.slurm?.length ?? 0) + 1}.sbatch`);
  writeFileAtomic(file, script);
  fs.chmodSync(file, 0o755);
  const r = run('sbatch', ['--parsable', file]);
  if (!r.ok) throw new CliError(`sbatch failed: ${r.error ?? r.stderr.trim()} (script kept at ${file}; print it with --dry-run)`);
  const jobId = r.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(jobId)) throw new CliError(`sbatch printed ${JSON.stringify(r.stdout.trim())}, expected a job id`);
  (m.slurm ??= []).push({ job_id: jobId, array, submitted_at: new Date().toISOString(), script: path.relative(sweepDir, file) });
  return jobId;
}
