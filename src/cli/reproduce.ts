// reclin reproduce <dir>: re-runs a finished experiment from its saved configs (run_config.json,
// recursive_config.json: the seed is in the run config) in a new directory, then reports metric by metric whether
// the new run matched, and whether the final weights are identical. On CPU everything should match bit for bit;
// throughput (perf/*) is the only thing excluded. Exit status 0 when everything matched, 1 otherwise.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints, loadRecursiveConfig, loadRunConfig, readMetrics } from '../experiment';
import { sha256File } from '../format';
import { CliError } from './errors';
import { redactArgv } from './run-config';
import { requireExperimentDir } from './run-dir';
import { startRun } from './runner';

export interface MetricMatch {
  metric: string;
  points: number;
  matched: boolean;
  /** Where the runs first differ (or one has a point the other lacks). */
  firstDifference?: { step: number; original: number | undefined; reproduced: number | undefined };
  maxAbsDiff: number;
}

/** Compares every (step, metric) value of two runs; perf/* (throughput) is not compared. */
export function compareRunMetrics(originalDir: string, reproducedDir: string): MetricMatch[] {
  const collect = (dir: string) => {
    const m = new Map<string, Map<number, number>>();
    for (const r of readMetrics(dir)) {
      for (const [k, v] of Object.entries(r.metrics)) {
        if (k.startsWith('perf/')) continue;
        if (!m.has(k)) m.set(k, new Map());
        m.get(k)!.set(r.step, v);
      }
    }
    return m;
  };
  const a = collect(originalDir);
  const b = collect(reproducedDir);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  return names.map((metric) => {
    const pa = a.get(metric) ?? new Map<number, number>();
    const pb = b.get(metric) ?? new Map<number, number>();
    const steps = [...new Set([...pa.keys(), ...pb.keys()])].sort((x, y) => x - y);
    let first: MetricMatch['firstDifference'];
    let maxAbsDiff = 0;
    for (const s of steps) {
      const x = pa.get(s);
      const y = pb.get(s);
      const same = x !== undefined && y !== undefined && (Object.is(x, y) || x === y);
      if (!same) {
        first ??= { step: s, original: x, reproduced: y };
        if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y)) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x - y));
        else maxAbsDiff = Infinity;
      }
    }
    return { metric, points: steps.length, matched: first === undefined, firstDifference: first, maxAbsDiff };
  });
}

/** sha256 of the newest checkpoint's model weights, or null without a checkpoint. */
function finalWeightsHash(dir: string): { step: number; sha256: string } | null {
  const last = listCheckpoints(dir).at(-1);
  if (!last) return null;
  return { step: last.step, sha256: sha256File(path.join(last.dir, 'model', 'model.safetensors')) };
}

export function register(program: Command): void {
  program
    .command('reproduce')
    .description('re-run a finished experiment from its saved configs and seed in a new directory and report, metric by metric, whether it matched')
    .argument('<dir>', 'experiment directory to reproduce')
    .option('--experiment-dir <dir>', 'where the reproduction goes (default: beside the original)')
    .option('--experiment-name <name>', 'name of the reproduction (default <name>_reproduce)')
    .action(async (dir: string, o: { experimentDir?: string; experimentName?: string }) => {
      const original = requireExperimentDir(dir);
      const meta = JSON.parse(fs.readFileSync(path.join(original, 'experiment_metadata.json'), 'utf8'));
      if (meta.status !== 'completed') throw new CliError(`dir: ${dir} is ${meta.status}, not completed; reproduce a finished run (resume this one first)`);
      const runConfigPath = path.join(original, 'run_config.json');
      const recursiveConfigPath = path.join(original, 'recursive_config.json');
      const runConfig = loadRunConfig(runConfigPath);
      const recursiveConfig = loadRecursiveConfig(recursiveConfigPath);
      const out = await startRun({
        name: o.experimentName ?? `${meta.name}_reproduce`,
        parentDir: path.resolve(o.experimentDir ?? path.dirname(original)),
        description: `reproduction of ${meta.name} (${meta.id})`,
        runConfig,
        recursiveConfig,
        recursiveConfigPath,
        runConfigPath,
        command: redactArgv(process.argv),
        ifExists: o.experimentName ? 'error' : 'suffix',
      });
      if (out.status !== 'completed') throw new CliError(`the reproduction ${out.status} at step ${out.step}${out.error ? `: ${out.error.message}` : ''} (${out.dir})`);
      const matches = compareRunMetrics(original, out.dir);
      const w0 = finalWeightsHash(original);
      const w1 = finalWeightsHash(out.dir);
      const lines = [`reproduction of ${original}`, `                in ${out.dir}`, ''];
      const width = Math.max(6, ...matches.map((m) => m.metric.length));
      for (const m of matches) {
        const detail = m.matched
          ? `identical at ${m.points} step(s)`
          : `DIFFERS from step ${m.firstDifference!.step} (original ${m.firstDifference!.original}, reproduced ${m.firstDifference!.reproduced}; max |diff| ${m.maxAbsDiff})`;
        lines.push(`${m.metric.padEnd(width)}  ${m.matched ? 'match' : 'MISMATCH'}  ${detail}`);
      }
      const weightsMatch = w0 !== null && w1 !== null && w0.step === w1.step && w0.sha256 === w1.sha256;
      lines.push(`${'weights'.padEnd(width)}  ${weightsMatch ? 'match' : 'MISMATCH'}  final checkpoint ${w0 ? `step ${w0.step} sha256 ${w0.sha256.slice(0, 16)}` : 'none'} vs ${w1 ? `step ${w1.step} sha256 ${w1.sha256.slice(0, 16)}` : 'none'}`);
      const all = matches.every((m) => m.matched) && weightsMatch && matches.length > 0;
      lines.push('', all ? `REPRODUCED: all ${matches.length} metrics and the final weights are bit-identical` : 'NOT REPRODUCED: see the mismatches above');
      process.stdout.write(lines.join('\n') + '\n');
      if (!all) process.exitCode = 1;
    });
}
