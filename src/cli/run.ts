// reclin run: config-driven training with the tracker (see run-config.ts for the flags, runner.ts for the loop).
import type { Command } from 'commander';
import { checkRepoId } from '../hub';
import { CliError } from './errors';
import { RUN_DEFAULTS_HELP, runFlagDefaults, showDefaults } from './options';
import { addRunFlags, redactArgv, resolveRunFlags, type RunFlags } from './run-config';
import { startRun } from './runner';

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('train: the base model from scratch (phase baseline) or a recursive phase (a, b, c) on a base model; records everything in the run directory');
  addRunFlags(cmd).addHelpText('after', RUN_DEFAULTS_HELP);
  showDefaults(cmd, runFlagDefaults());
  cmd.action(async (f: RunFlags) => {
    const r = resolveRunFlags(f);
    const token = f.hfToken ?? process.env.HF_TOKEN;
    // The upload happens at the end; everything it needs is checked now, before hours of training.
    if (r.runConfig.hf_repo) {
      checkRepoId(r.runConfig.hf_repo, '--hf-repo');
      if (!token) throw new CliError('--hf-repo: uploading at the end needs a token; pass --hf-token or set HF_TOKEN (checked now, before training)');
      if (!token.startsWith('hf_')) throw new CliError("--hf-token: a Hugging Face access token starts with 'hf_'; the one given does not (its value is not shown)");
    }
    const out = await startRun({
      ...r,
      command: redactArgv(process.argv),
      upload: r.runConfig.hf_repo ? { repo: r.runConfig.hf_repo, token, hubUrl: f.hubUrl, private: f.private } : undefined,
    });
    if (out.status === 'failed') throw new CliError(`run failed at step ${out.step} (recorded in ${out.dir}/status.json): ${out.error?.message}`);
    if (out.status === 'interrupted') process.exitCode = 130;
  });
}
