// reclin card <dir>: (re)writes the run's Hugging Face model card, README.md, from its files and prints it.
import type { Command } from 'commander';
import * as path from 'node:path';
import { createModelCardForRun } from '../experiment';
import { requireExperimentDir } from './run-dir';

export function register(program: Command): void {
  program
    .command('card')
    .description("write the run's model card (README.md) from its metadata, configs and metrics, and print it")
    .argument('<dir>', 'experiment directory')
    .option('--quiet', 'write README.md without printing it', false)
    .action((dir: string, o: { quiet: boolean }) => {
      const runDir = requireExperimentDir(dir);
      const card = createModelCardForRun(runDir);
      if (!o.quiet) process.stdout.write(card.endsWith('\n') ? card : `${card}\n`);
      process.stderr.write(`wrote ${path.join(runDir, 'README.md')}\n`);
    });
}
