// reclin note <dir> "text" [--step N]  and  reclin issue <dir> "text" [--step N]
// The same command for the two logs of a run (notes/notes.txt, notes/issues.txt, and the metadata). It works
// while the run trains: the entry is appended at once and the live run merges it into its metadata.
import type { Command } from 'commander';
import { addNoteToRun } from '../experiment';
import { CliError } from './errors';
import { intArg } from './options';
import { requireExperimentDir } from './run-dir';

function registerKind(program: Command, kind: 'note' | 'issue'): void {
  program
    .command(kind)
    .description(kind === 'note' ? 'add an observation to a run (notes/notes.txt and its metadata)' : 'record a problem met in a run (notes/issues.txt and its metadata)')
    .argument('<dir>', 'experiment directory')
    .argument('<text>', `the ${kind}`)
    .option('--step <n>', 'the training step it refers to', intArg(0))
    .action((dir: string, text: string, o: { step?: number }) => {
      const runDir = requireExperimentDir(dir);
      if (text.trim() === '') throw new CliError(`text: expected a non-empty ${kind}, got ${JSON.stringify(text)}`);
      const e = addNoteToRun(runDir, kind, text, o.step);
      process.stdout.write(`${kind} added to ${runDir}: ${e.step === null ? '' : `[Step ${e.step}] `}${e.time}: ${e.text}\n`);
      if (!e.merged) process.stdout.write(`the run is training: the ${kind} is in notes/${kind === 'note' ? 'notes' : 'issues'}.txt now and enters its metadata at its next heartbeat\n`);
    });
}

export function register(program: Command): void {
  registerKind(program, 'note');
  registerKind(program, 'issue');
}
