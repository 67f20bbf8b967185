// reclin sweep: a grid of configs x seeds, each cell an ordinary run directory under one sweep directory with a
// manifest (sweep.json). Runs locally (--jobs x --threads-per-run <= cores) or as a Slurm job array
// (--launcher slurm). Re-running the same command resumes: completed cells are never re-run, interrupted, failed
// or killed ones continue from their newest checkpoint. The grid, manifest, cells and launchers live in sweep-*.ts beside it.
import { Option, type Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../format';
import { CliError } from './errors';
import { intArg } from './options';
import { addRunFlags, redactArgv, resolveRunFlags, type RunFlags } from './run-config';
import { runCell } from './sweep-cell';
import { expandGrid, parseSeeds, parseSetFlag, readSweepFile, type Axis } from './sweep-grid';
import { runLocal } from './sweep-local';
import { FORMAT, MANIFEST, describeDifference, fingerprintOf, isSweepDir, observeCell, readManifest, resolveCells, writeManifest, type Asked, type Manifest } from './sweep-manifest';
import { arraySpec, queuedIndices, slurmScript, submit } from './sweep-slurm';

interface SweepFlags extends RunFlags {
  seeds?: string;
  set: string[];
  sweepFile?: string;
  sweepName?: string;
  jobs?: number;
  threadsPerRun: number;
  launcher: 'local' | 'slurm';
  dryRun: boolean;
  sbatchArg: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** The node arguments that start this CLI again (same loader, same entry script). */
function cliArgs(): string[] {
  return [...process.execArgv, path.resolve(process.argv[1])];
}

export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('run a grid of configs x seeds, one run directory per cell under one sweep directory; re-run the same command to resume')
    .option('--seeds <spec>', 'seeds of every config: "0-4" (inclusive), "0,2,5" or a mix')
    .option('--set <field=v1,v2...>', 'vary a run config field (optimizer.lr=1e-3,3e-3; phase=baseline,a) or recursive.<field>; repeatable, the grid is the product', collect, [])
    .option('--sweep-file <file>', 'JSON with run_config, recursive_config (paths), seeds and grid ({ field: [values] }); flags add to it')
    .option('--sweep-name <name>', 'sweep folder under --experiment-dir (default sweep_<hash of the request>, so the same command finds the same sweep)')
    .option('--jobs <n>', 'cells at once (local launcher; default cores / threads-per-run)', intArg(1))
    .option('--threads-per-run <n>', 'CPU threads of each cell (OMP_NUM_THREADS)', intArg(1), 1)
    .addOption(new Option('--launcher <name>', 'where the cells run').choices(['local', 'slurm']).default('local'))
    .option('--dry-run', 'print the cells (and the Slurm script) without writing or running anything', false)
    .option('--sbatch-arg <option>', 'an extra #SBATCH option for --launcher slurm (e.g. --partition=debug); repeatable', collect, []);
  addRunFlags(cmd).action(async (f: SweepFlags) => {
    if (f.experimentName !== undefined) throw new CliError('--experiment-name: a sweep names its folder with --sweep-name; each cell gets its own run name');
    if (f.seed !== undefined) throw new CliError(`--seed: a sweep takes its seeds from --seeds (e.g. --seeds ${f.seed} or --seeds 0-4)`);
    if (f.hfRepo !== undefined) throw new CliError('--hf-repo: a sweep does not upload its cells; upload the runs you choose afterwards with reclin upload');
    const file = f.sweepFile ? readSweepFile(path.resolve(f.sweepFile)) : undefined;
    if (f.runConfig && file?.runConfig) throw new CliError(`--run-config and the sweep file's run_config both give the base run config (${f.runConfig}, ${file.runConfig}); give one`);
    const seeds = f.seeds !== undefined ? parseSeeds(f.seeds) : file?.seeds;
    if (!seeds) throw new CliError('--seeds: required (e.g. --seeds 0-4), or "seeds" in the --sweep-file');
    const axes: Axis[] = [...(file?.axes ?? [])];
    for (const s of f.set) {
      const a = parseSetFlag(s);
      const i = axes.findIndex((x) => x.key === a.key && file?.axes.includes(x));
      if (i >= 0) axes.splice(i, 1, a); // a flag replaces the sweep file's axis of the same field
      else axes.push(a);
    }
    const cells = expandGrid(axes, seeds);
    const cores = os.availableParallelism();
    const jobs = f.jobs ?? Math.max(1, Math.floor(cores / f.threadsPerRun));
    if (f.launcher === 'local' && jobs * f.threadsPerRun > cores) {
      throw new CliError(`--jobs ${jobs} x --threads-per-run ${f.threadsPerRun} = ${jobs * f.threadsPerRun} threads, more than the ${cores} cores here; allowed: jobs x threads-per-run <= ${cores}`);
    }
    // The base config every cell starts from, validated as `reclin run` would (the recursive config is checked per cell).
    const base = resolveRunFlags({ ...f, runConfig: f.runConfig ?? file?.runConfig, recursiveConfig: undefined, experimentName: 'sweep' });
    const recursiveConfig = f.recursiveConfig ?? file?.recursiveConfig;
    const asked: Asked = { seeds, axes, base_run_config: base.runConfig, recursive_config: recursiveConfig ? path.resolve(recursiveConfig) : null };
    const fingerprint = fingerprintOf(asked);
    const name = f.sweepName ?? `sweep_${fingerprint.slice(0, 8)}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new CliError(`--sweep-name: expected a folder name of letters, digits, '.', '_' and '-', got ${JSON.stringify(name)}`);
    const sweepDir = path.resolve(f.experimentDir, name);
    const resolved = resolveCells(asked, cells, sweepDir);
    const say = (t: string) => process.stdout.write(`${t}\n`);

    let m: Manifest;
    if (fs.existsSync(sweepDir)) {
      if (!isSweepDir(sweepDir)) throw new CliError(`--sweep-name: ${sweepDir} exists and is not a sweep directory (no ${MANIFEST}); pick another name`);
      m = readManifest(sweepDir);
      if (m.fingerprint !== fingerprint) {
        throw new CliError(`${sweepDir} holds a different sweep (${describeDifference(m.asked, JSON.parse(JSON.stringify(asked)))}); re-run its own command to resume it, or pick another --sweep-name`);
      }
    } else {
      const now = new Date().toISOString();
      m = { format: FORMAT, name, created_at: now, updated_at: now, command: redactArgv(process.argv), fingerprint, asked, cells: resolved.map((r) => r.cell), state: {} };
    }
    for (const c of m.cells) m.state[c.name] = observeCell(sweepDir, c, m.state[c.name]);
    const unfinished = m.cells.filter((c) => m.state[c.name].status !== 'completed');

    if (f.dryRun) {
      const rows = [['#', 'cell', 'group', 'seed', 'status'], ...m.cells.map((c) => [String(c.index), c.name, c.group, String(c.seed), m.state[c.name].status])];
      const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      say(`sweep ${sweepDir} (dry run: nothing written): ${m.cells.length} cells, ${unfinished.length} to run`);
      for (const r of rows) say(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
      if (f.launcher === 'slurm' && unfinished.length) say(`\n${slurmScript(sweepDir, m, unfinished.map((c) => c.index), { threads: f.threadsPerRun, maxParallel: f.jobs, sbatchArgs: f.sbatchArg, cli: cliArgs() })}`);
      return;
    }
    if (!fs.existsSync(sweepDir)) {
      fs.mkdirSync(path.join(sweepDir, 'cells'), { recursive: true });
      fs.mkdirSync(path.join(sweepDir, 'logs'), { recursive: true });
      for (const r of resolved) {
        writeJsonAtomic(path.join(sweepDir, r.cell.run_config), r.run);
        writeJsonAtomic(path.join(sweepDir, r.cell.recursive_config), r.recursive);
      }
    }
    writeManifest(sweepDir, m);

    if (f.launcher === 'slurm') {
      const queued = queuedIndices(m);
      const todo = unfinished.filter((c) => !queued.has(c.index)).map((c) => c.index);
      if (queued.size) say(`${queued.size} cell(s) of earlier submissions are still queued or running in Slurm: not submitted again`);
      if (todo.length === 0) {
        say(`sweep ${sweepDir}: nothing to submit (${m.cells.length - unfinished.length}/${m.cells.length} completed)`);
        return;
      }
      const array = arraySpec(todo);
      const script = slurmScript(sweepDir, m, todo, { threads: f.threadsPerRun, maxParallel: f.jobs, sbatchArgs: f.sbatchArg, cli: cliArgs() });
      const jobId = submit(sweepDir, m, script, array);
      writeManifest(sweepDir, m);
      say(`submitted job array ${jobId} (tasks ${array}) for ${todo.length} cell(s) of ${sweepDir}; logs in ${path.join(sweepDir, 'logs')}`);
      say(`when it is done: reclin compare ${path.relative(process.cwd(), sweepDir) || '.'} (re-run this command to resubmit unfinished cells)`);
      return;
    }
    const r = await runLocal(sweepDir, m, { jobs, threads: f.threadsPerRun, cli: cliArgs() });
    say(`sweep ${sweepDir}: ${r.completed}/${m.cells.length} cells completed, wall time ${r.seconds.toFixed(1)} s${r.failed.length ? `; failed: ${r.failed.join(', ')}` : ''}`);
    if (r.completed === m.cells.length) say(`next: reclin compare ${path.relative(process.cwd(), sweepDir) || '.'}`);
    else say('re-run the same command to resume the unfinished cells');
    if (r.failed.length) throw new CliError(`${r.failed.length} cell(s) failed (their logs are in ${path.join(sweepDir, 'logs')}); re-run the same command to resume them`);
    if (r.interrupted) process.exitCode = 130;
  });

  program
    .command('sweep-cell', { hidden: true })
    .description('run one cell of a sweep (started by reclin sweep, locally or as a Slurm array task)')
    .argument('<sweep-dir>', 'the sweep directory')
    .argument('<cell>', 'the cell index in sweep.json, or its name')
    .action(async (dir: string, which: string) => {
      const out = await runCell(path.resolve(dir), which, redactArgv(process.argv));
      if (out.status === 'failed') throw new CliError(`cell failed at step ${out.step} (recorded in ${out.dir}/status.json): ${'error' in out ? out.error?.message : ''}`);
      if (out.status === 'interrupted') process.exitCode = 130;
    });
}
