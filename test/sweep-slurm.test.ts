// reclin sweep --launcher slurm against a real single-node Slurm (scripts/slurm-local.sh starts munged,
// slurmctld and slurmd on this machine): the dry run prints the job-array script and writes nothing; the
// submission runs every cell as an array task with its own log; re-running the command while tasks are queued
// submits nothing twice, and after they finish reports nothing left to do. Outside CI the test is skipped when
// Slurm is not installed (apt-get install -y slurm-wlm munge); in CI it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, runCli, waitFor } from './cli-helpers';
import { writeTinyRunConfig } from './sweep-fixtures';
import { interopRequired } from './helpers';

function startSlurm(): { conf: string } | { skip: string } {
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts', 'slurm-local.sh')], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return { conf: path.join(process.env.RECLIN_SLURM_DIR ?? '/tmp/reclin-slurm', 'slurm.conf') };
  const why = `scripts/slurm-local.sh failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
  if (interopRequired) throw new Error(`${why}; RECLIN_REQUIRE_INTEROP=1 requires it (.ci/run installs slurm-wlm and munge)`);
  return { skip: why };
}

test('reclin sweep --launcher slurm on a real single-node cluster', async (t) => {
  const slurm = startSlurm();
  if ('skip' in slurm) return t.skip(slurm.skip);
  const env = { SLURM_CONF: slurm.conf };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-slurm-'));
  try {
    const rc = writeTinyRunConfig(tmp, 10);
    const args = ['sweep', '--launcher', 'slurm', '--run-config', rc, '--seeds', '0-1', '--set', 'optimizer.lr=1e-3,4e-3', '--sweep-name', 'onslurm', '--sbatch-arg=--time=00:10:00'];
    const sweepDir = path.join(tmp, 'experiments', 'onslurm');

    const dry = await runCli([...args, '--dry-run'], { cwd: tmp, env });
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /#SBATCH --array=0-3\n/);
    assert.match(dry.stdout, /#SBATCH --cpus-per-task=1\n/);
    assert.match(dry.stdout, /#SBATCH --time=00:10:00\n/);
    assert.match(dry.stdout, /sweep-cell .*onslurm "\$SLURM_ARRAY_TASK_ID"/);
    assert.ok(!fs.existsSync(sweepDir), 'a dry run writes nothing');

    const sub = await runCli(args, { cwd: tmp, env });
    assert.equal(sub.code, 0, sub.stdout + sub.stderr);
    assert.match(sub.stdout, /submitted job array \d+ \(tasks 0-3\) for 4 cell\(s\)/);
    const manifest = () => JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8'));
    assert.equal(manifest().slurm.length, 1);
    assert.ok(fs.existsSync(path.join(sweepDir, manifest().slurm[0].script)));
    // While tasks are still queued or running, a re-run does not submit them again.
    const again = await runCli(args, { cwd: tmp, env });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout, /submitted job array/);
    assert.equal(manifest().slurm.length, 1);

    const status = (cell: string) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(sweepDir, cell, 'status.json'), 'utf8')).status as string;
      } catch {
        return 'none';
      }
    };
    const names: string[] = manifest().cells.map((c: { name: string }) => c.name);
    await waitFor(() => names.every((n) => status(n) === 'completed' || status(n) === 'failed'), 'the array tasks', 300_000);
    for (const n of names) assert.equal(status(n), 'completed', `${n}: ${fs.readdirSync(path.join(sweepDir, 'logs')).join(', ')}`);
    const logs = fs.readdirSync(path.join(sweepDir, 'logs')).filter((f) => /^slurm-\d+_\d+\.out$/.test(f));
    assert.ok(logs.length >= 4, `one log per array task, got ${logs.join(', ')}`);
    assert.match(fs.readFileSync(path.join(sweepDir, 'logs', logs[0]), 'utf8'), /completed .* at step 10/);
    // Wait until Slurm has let go of the tasks, then nothing is left to submit.
    await waitFor(() => spawnSync('squeue', ['-h', '-j', manifest().slurm.map((s: { job_id: string }) => s.job_id).join(',')], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout.trim() === '', 'the job to leave the queue', 60_000);
    const done = await runCli(args, { cwd: tmp, env });
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /nothing to submit \(4\/4 completed\)/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
