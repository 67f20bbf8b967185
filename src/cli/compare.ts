// reclin compare <dir> <dir>... [--all] [--html FILE]: the config keys that differ, the final and best value of
// every metric side by side, and (with --html) a self-contained HTML report with the loss/eval curves as SVG.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMetrics, readRunStatus, writeFileAtomic } from '../experiment';
import { compareChecks, renderChecks } from './compare-checks';
import { flatten, renderHtml, renderText, type RunSummary } from './compare-report';
import { CliError } from './errors';
import { requireExperimentDir } from './run-dir';

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file}: not readable JSON (${(e as Error).message})`);
  }
}

/** What compare needs of one run directory. */
export function loadRunSummary(dir: string): RunSummary {
  const runDir = requireExperimentDir(dir);
  const meta = readJson(path.join(runDir, 'experiment_metadata.json')) as { name?: string };
  const config: Record<string, unknown> = {};
  for (const [prefix, file] of [['run', 'run_config.json'], ['recursive', 'recursive_config.json']] as const) {
    const p = path.join(runDir, file);
    if (fs.existsSync(p)) flatten(readJson(p), prefix, config);
  }
  const series: RunSummary['series'] = {};
  for (const rec of readMetrics(runDir)) {
    for (const [k, v] of Object.entries(rec.metrics)) (series[k] ??= []).push([rec.step, v]);
  }
  for (const pts of Object.values(series)) pts.sort((a, b) => a[0] - b[0]);
  const st = readRunStatus(runDir);
  return { name: meta.name ?? path.basename(runDir), dir: runDir, status: st.stale ? 'stale' : st.status, config, series };
}

/**
 * The report replaces only a regular file, or is created in an existing folder: a symlink, a directory, a device
 * or a pipe at the target is refused, since the atomic write would replace the link or node itself.
 */
export function checkHtmlTarget(target: string): string {
  const out = path.resolve(target);
  const st = fs.lstatSync(out, { throwIfNoEntry: false });
  if (st && !st.isFile()) {
    const kind = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new CliError(`--html: ${target} is ${kind}; allowed: a regular file (replaced) or a new file name in an existing folder`);
  }
  const parent = fs.statSync(path.dirname(out), { throwIfNoEntry: false });
  if (!parent?.isDirectory()) throw new CliError(`--html: the folder of ${target} (${path.dirname(out)}) does not exist or is not a folder`);
  return out;
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('compare runs: config differences, final and best metrics, and an HTML report with the curves')
    .argument('<dirs...>', 'two or more experiment directories')
    .option('--all', 'list every config key, not only those that differ', false)
    .option('--html <file>', 'also write the HTML report (tables + loss/eval curves as inline SVG) to this file')
    .action((dirs: string[], o: { all: boolean; html?: string }) => {
      if (dirs.length < 2) throw new CliError(`dirs: expected two or more experiment directories, got ${dirs.length}`);
      const runs = dirs.map((d) => loadRunSummary(d));
      // Runs with the same name (e.g. from different folders) get their parent folder as a prefix.
      const counts = new Map<string, number>();
      for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
      for (const r of runs) if (counts.get(r.name)! > 1) r.name = `${path.basename(path.dirname(r.dir))}/${r.name}`;
      if (o.html) writeFileAtomic(checkHtmlTarget(o.html), renderHtml(runs, { generatedAt: new Date().toISOString() }));
      // Before the numbers: whether they can be compared at all.
      process.stdout.write(renderChecks(compareChecks(runs)));
      process.stdout.write(renderText(runs, { all: o.all }));
      if (o.html) process.stdout.write(`HTML report: ${path.resolve(o.html)}\n`);
    });
}
