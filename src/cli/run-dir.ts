// Checks shared by the commands that read a run directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from './errors';

/** The absolute run directory, or a CliError saying why `dir` is not one. */
export function requireExperimentDir(dir: string, argName = 'dir'): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new CliError(`${argName}: ${dir} does not exist`);
  if (!fs.statSync(abs).isDirectory()) throw new CliError(`${argName}: ${dir} is not a directory`);
  if (!fs.existsSync(path.join(abs, 'experiment_metadata.json'))) throw new CliError(`${argName}: ${dir} is not an experiment directory (no experiment_metadata.json)`);
  return abs;
}
