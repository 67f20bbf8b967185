// The reclin command line: builds the commander program from one file per command and runs it.
// Errors end as one line on stderr and a non-zero exit code (the stack only with RECLIN_DEBUG=1).
import { Command, CommanderError } from 'commander';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { register as registerCard } from './card';
import { register as registerCompare } from './compare';
import { register as registerDemo } from './demo';
import { register as registerDoctor } from './doctor';
import { register as registerList } from './list';
import { register as registerNote } from './note';
import { register as registerReproduce } from './reproduce';
import { register as registerResume } from './resume';
import { register as registerRun } from './run';
import { register as registerShow } from './show';
import { register as registerSweep } from './sweep';
import { register as registerUpload } from './upload';

function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8'));
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('reclin')
    .description('Recursive-refinement experiments on Kimi-Linear-style (KDA) language models')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const register of [registerRun, registerResume, registerReproduce, registerSweep, registerNote, registerList, registerShow, registerCompare, registerCard, registerUpload, registerDemo, registerDoctor]) register(program);
  return program;
}

let quietOnClosedPipe = false;

/**
 * `reclin list | head`: once the reader has closed the pipe, further output has nowhere to go. Writing then
 * fails with EPIPE, which would crash with a stack trace; instead the rest of the output is dropped and the
 * command finishes as it would have (a training run keeps training and recording).
 */
function dropOutputOnClosedPipe(): void {
  if (quietOnClosedPipe) return;
  quietOnClosedPipe = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  dropOutputOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command that completed but found a problem (doctor without an addon) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // Commander has already printed its own message (usage errors) or the help/version text.
    if (e instanceof CommanderError) return e.exitCode;
    const err = e as Error;
    process.stderr.write(`reclin: ${err?.message ?? String(e)}\n`);
    if (process.env.RECLIN_DEBUG && err?.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  });
}
