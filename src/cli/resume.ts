// reclin resume <dir>: continue a run from its newest complete checkpoint, in its own directory. Everything
// logged after that checkpoint is superseded (moved to superseded/), so the history reads as one clean run; on
// CPU the continuation is bit-identical to an uninterrupted run.
import type { Command } from 'commander';
import { CliError } from './errors';
import { redactArgv } from './run-config';
import { requireExperimentDir } from './run-dir';
import { resumeRun } from './runner';

export function register(program: Command): void {
  program
    .command('resume')
    .description('continue an interrupted, failed or killed run from its newest complete checkpoint')
    .argument('<dir>', 'experiment directory')
    .action(async (dir: string) => {
      const runDir = requireExperimentDir(dir);
      const out = await resumeRun(runDir, { command: redactArgv(process.argv) });
      if (out.status === 'failed') throw new CliError(`resumed run failed at step ${out.step} (recorded in ${out.dir}/status.json): ${out.error?.message}`);
      if (out.status === 'interrupted') process.exitCode = 130;
    });
}
