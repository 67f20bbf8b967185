// reclin upload <dir> --hf-repo ID [--hf-token T | HF_TOKEN] [--private] [--dry-run] [--hub-url URL]
import type { Command } from 'commander';
import { uploadExperiment } from '../hub';
import { formatBytes, urlArg } from './options';

export function register(program: Command): void {
  program
    .command('upload')
    .description('upload an experiment (best checkpoint model, configs, metadata, notes, metrics, TensorBoard logs, model card) to the Hugging Face Hub in one commit')
    .argument('<dir>', 'experiment directory')
    .requiredOption('--hf-repo <id>', 'Hub model repo, "namespace/name" (created when missing)')
    .option('--hf-token <token>', 'Hub write token (default: the HF_TOKEN environment variable)')
    .option('--private', 'create the repo as private', false)
    .option('--dry-run', 'list what would be uploaded and stop', false)
    .option('--hub-url <url>', 'Hub endpoint (default: HF_ENDPOINT, then https://huggingface.co)', urlArg)
    .action(async (dir: string, o: { hfRepo: string; hfToken?: string; private: boolean; dryRun: boolean; hubUrl?: string }) => {
      const r = await uploadExperiment(dir, {
        repo: o.hfRepo,
        token: o.hfToken,
        private: o.private,
        dryRun: o.dryRun,
        hubUrl: o.hubUrl,
        onPhase: (phase) => process.stdout.write(`${phase}...\n`),
      });
      const width = Math.max(...r.files.map((f) => f.path.length));
      if (r.dryRun) {
        process.stdout.write(`dry run: would upload to ${r.hubUrl}/${r.repo} (model from checkpoint step ${r.checkpointStep}):\n`);
        for (const f of r.files) process.stdout.write(`  ${f.path.padEnd(width)}  ${formatBytes(f.size).padStart(10)}  (${f.size} bytes)\n`);
        process.stdout.write(`${r.files.length} files, ${formatBytes(r.totalBytes)} (${r.totalBytes} bytes); nothing was sent\n`);
        return;
      }
      process.stdout.write(
        `${r.created ? 'created' : 'updated'} ${r.hubUrl}/${r.repo}${o.private && r.created ? ' (private)' : ''}: ` +
          `${r.files.length} files, ${formatBytes(r.totalBytes)}, model from checkpoint step ${r.checkpointStep}\n`,
      );
      if (o.private && !r.created) process.stdout.write('note: the repo already existed; --private only applies when it is created, its visibility was not changed\n');
      if (r.commit) process.stdout.write(`commit ${r.commit.oid}\n${r.commit.url}\n`);
    });
}
