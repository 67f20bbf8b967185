// reclin resume <dir>: continue a run from its newest complete checkpoint, in its own directory. Everything
// logged after that checkpoint is superseded (moved to superseded/), so the history reads as one clean run; on
// CPU the continuation is bit-identical to an uninterrupted run.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRepoId } from '../hub';
import { CliError } from './errors';
import { urlArg } from './options';
import { redactArgv } from './run-config';
import { requireExperimentDir } from './run-dir';
import { resumeRun } from './runner';

export function register(program: Command): void {
  program
    .command('resume')
    .description('continue an interrupted, failed or killed run from its newest complete checkpoint')
    .argument('<dir>', 'experiment directory')
    .option('--hf-token <token>', 'Hub write token when the run was started with --hf-repo (default: HF_TOKEN); never recorded')
    .option('--hub-url <url>', 'Hub endpoint (default: the one the run was started with, then HF_ENDPOINT, then https://huggingface.co)', urlArg)
    .action(async (dir: string, o: { hfToken?: string; hubUrl?: string }) => {
      const runDir = requireExperimentDir(dir);
      const upload = uploadOfRun(runDir, o);
      const out = await resumeRun(runDir, { command: redactArgv(process.argv), upload });
      if (out.status === 'failed') throw new CliError(`resumed run failed at step ${out.step} (recorded in ${out.dir}/status.json): ${out.error?.message}`);
      if (out.status === 'interrupted') process.exitCode = 130;
    });
}

/** A run started with --hf-repo uploads when its resumed run completes: the token is checked now, before training. */
function uploadOfRun(runDir: string, o: { hfToken?: string; hubUrl?: string }): { repo: string; token: string; hubUrl?: string; private: boolean } | undefined {
  let repo: unknown;
  let recorded: { hub_url?: unknown; private?: unknown } = {};
  try {
    repo = JSON.parse(fs.readFileSync(path.join(runDir, 'run_config.json'), 'utf8')).hf_repo;
    recorded = JSON.parse(fs.readFileSync(path.join(runDir, 'experiment_metadata.json'), 'utf8')).extra?.upload ?? {};
  } catch {
    return undefined; // resume itself reports an unreadable record, naming the file
  }
  if (typeof repo !== 'string' || repo === '') return undefined;
  checkRepoId(repo, 'run_config.json hf_repo');
  const token = o.hfToken ?? process.env.HF_TOKEN;
  if (!token) throw new CliError(`this run uploads to ${repo} when it completes (--hf-repo); pass --hf-token or set HF_TOKEN (checked now, before training)`);
  if (!token.startsWith('hf_')) throw new CliError("--hf-token: a Hugging Face access token starts with 'hf_'; the one given does not (its value is not shown)");
  const hubUrl = o.hubUrl ?? (typeof recorded.hub_url === 'string' ? recorded.hub_url : undefined);
  return { repo, token, hubUrl, private: recorded.private === true };
}
