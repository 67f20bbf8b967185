// reclin compare <dir> <dir>... [--all] [--html FILE]: the config keys that differ, the final and best value of
// every metric side by side, and (with --html) a self-contained HTML report with the loss/eval curves as SVG.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMetrics, readRunStatus } from '../experiment';
import { writeFileAtomic } from '../format';
import { compareChecks, renderChecks } from './compare-checks';
import { flatten, renderHtml, renderText, type RunSummary } from './compare-report';
import { buildGroupedReport, groupByFields, renderGroupedHtml, renderGroupedText, type GroupedReport } from './compare-stats';
import { isSweepDir, readManifest } from './sweep-manifest';
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

/** The run directories of the arguments: a sweep directory stands for its cells' runs (with their groups and seeds). */
function expandDirs(dirs: string[]): { dir: string; sweep?: { group: string; seed: number } }[] {
  const out: { dir: string; sweep?: { group: string; seed: number } }[] = [];
  for (const d of dirs) {
    if (!isSweepDir(path.resolve(d))) {
      out.push({ dir: d });
      continue;
    }
    const m = readManifest(path.resolve(d));
    const present = m.cells.filter((c) => fs.existsSync(path.join(path.resolve(d), c.name, 'experiment_metadata.json')));
    if (present.length === 0) throw new CliError(`${d}: a sweep with no run directories yet (run it first)`);
    for (const c of present) out.push({ dir: path.join(path.resolve(d), c.name), sweep: { group: c.group, seed: c.seed } });
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('compare runs: config differences, final and best metrics, and an HTML report with the curves; with groups (a sweep, or --group-by), statistics over seeds')
    .argument('<dirs...>', 'two or more experiment directories, or sweep directories (each stands for its runs)')
    .option('--all', 'list every config key, not only those that differ', false)
    .option('--html <file>', 'also write the HTML report (tables + loss/eval curves as inline SVG) to this file')
    .option('--group-by <fields>', 'group runs by config field(s), comma-separated (e.g. phase, optimizer.lr): statistics over the seeds of each group (automatic for a sweep directory)')
    .option('--reference <group>', 'the group the others are compared against (default: the first group)')
    .option('--json', 'with groups: print the statistics as JSON', false)
    .action((dirs: string[], o: { all: boolean; html?: string; groupBy?: string; reference?: string; json: boolean }) => {
      const entries = expandDirs(dirs);
      if (entries.length < 2) throw new CliError(`dirs: expected two or more experiment directories, got ${entries.length}`);
      const runs = entries.map((e) => loadRunSummary(e.dir));
      // Runs with the same name (e.g. from different folders) get their parent folder as a prefix.
      const counts = new Map<string, number>();
      for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
      for (const r of runs) if (counts.get(r.name)! > 1) r.name = `${path.basename(path.dirname(r.dir))}/${r.name}`;
      let grouped: GroupedReport | undefined;
      const fields = o.groupBy?.split(',').map((f) => f.trim()).filter(Boolean);
      if (o.groupBy !== undefined && !fields?.length) throw new CliError('--group-by: expected one or more config fields, e.g. phase or optimizer.lr');
      const seeds = runs.map((r) => (typeof r.config['run.seed'] === 'number' ? (r.config['run.seed'] as number) : null));
      if (fields) grouped = buildGroupedReport(runs, groupByFields(runs, fields), seeds, fields.join(', '), o.reference);
      else if (entries.every((e) => e.sweep)) grouped = buildGroupedReport(runs, entries.map((e) => e.sweep!.group), entries.map((e) => e.sweep!.seed), "the sweep's grid", o.reference);
      else if (o.reference !== undefined || o.json) throw new CliError(`${o.json ? '--json' : '--reference'}: needs groups: pass --group-by <field> or a sweep directory`);
      if (o.html) {
        const out = checkHtmlTarget(o.html);
        const generatedAt = new Date().toISOString();
        writeFileAtomic(out, grouped ? renderGroupedHtml(runs, grouped, { generatedAt }) : renderHtml(runs, { generatedAt }));
      }
      // Before the numbers: whether they can be compared at all.
      if (!o.json) process.stdout.write(renderChecks(compareChecks(runs)));
      if (grouped && o.json) process.stdout.write(JSON.stringify(grouped, null, 2) + '\n');
      else process.stdout.write(grouped ? renderGroupedText(grouped) : renderText(runs, { all: o.all }));
      if (o.html && !o.json) process.stdout.write(`HTML report: ${path.resolve(o.html)}\n`);
    });
}
