// The sweep directory: sweep.json (what was asked, the cells, each cell's last known state), cells/ (each
// cell's run and recursive config), logs/ (one log per cell), and one ordinary run directory per cell.
// Only the process driving the sweep writes sweep.json (atomically); a cell's truth is its run's status.json.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRecursiveConfig, parseRecursiveConfig, readRunStatus, type RunConfig } from '../experiment';
import { writeJsonAtomic } from '../format';
import { CliError } from './errors';
import { defaultRecursiveConfigPath, resolveRunFlags } from './run-config';
import type { Axis, Cell } from './sweep-grid';

export const MANIFEST = 'sweep.json';
export const FORMAT = 'reclin-sweep/1';

export type CellStatus = 'pending' | 'running' | 'completed' | 'failed' | 'interrupted' | 'stale' | 'unknown';

export interface CellState {
  status: CellStatus;
  step: number | null;
  /** How many times this sweep started or resumed the cell. */
  attempts: number;
  started_at?: string;
  finished_at?: string;
  seconds?: number;
  error?: string;
}

export interface ManifestCell extends Cell {
  /** Relative to the sweep directory. */
  run_config: string;
  recursive_config: string;
  log: string;
}

export interface Asked {
  seeds: number[];
  axes: Axis[];
  /** The resolved run config every cell starts from (before its axis values and seed). */
  base_run_config: RunConfig;
  /** The recursive config file given, or null for the shipped default of each cell's phase. */
  recursive_config: string | null;
}

export interface SlurmSubmission {
  job_id: string;
  array: string;
  submitted_at: string;
  script: string;
}

export interface Manifest {
  format: typeof FORMAT;
  name: string;
  created_at: string;
  updated_at: string;
  command: string[];
  /** sha256 of `asked`: re-running the same command finds the same sweep; a different request is refused. */
  fingerprint: string;
  asked: Asked;
  cells: ManifestCell[];
  state: Record<string, CellState>;
  slurm?: SlurmSubmission[];
}

export function fingerprintOf(asked: Asked): string {
  return createHash('sha256').update(JSON.stringify(asked)).digest('hex');
}

export function readManifest(sweepDir: string): Manifest {
  const file = path.join(sweepDir, MANIFEST);
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${sweepDir}: not a sweep directory (${MANIFEST} unreadable: ${(e as Error).message})`);
  }
  if (m.format !== FORMAT) throw new CliError(`${file}: format ${JSON.stringify(m.format)}, expected ${JSON.stringify(FORMAT)}`);
  return m;
}

export function writeManifest(sweepDir: string, m: Manifest): void {
  m.updated_at = new Date().toISOString();
  writeJsonAtomic(path.join(sweepDir, MANIFEST), m);
}

export function isSweepDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, MANIFEST));
}

/** Where the first difference between two requests lies, for the refusal message. */
export function describeDifference(a: Asked, b: Asked): string {
  for (const k of Object.keys(a) as (keyof Asked)[]) {
    const [x, y] = [JSON.stringify(a[k]), JSON.stringify(b[k])];
    if (x !== y) return `${k}: was ${x.length > 200 ? `${x.slice(0, 200)}…` : x}, now ${y.length > 200 ? `${y.slice(0, 200)}…` : y}`;
  }
  return 'nothing';
}

function setPath(obj: Record<string, any>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
  cur[keys[keys.length - 1]] = value;
}

/**
 * Each cell's run and recursive config, validated exactly as `reclin run` validates its flags (field, value and
 * what is allowed, prefixed by the cell), before anything is written.
 */
export function resolveCells(asked: Asked, cells: Cell[], sweepDir: string): { cell: ManifestCell; run: RunConfig; recursive: unknown }[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-sweep-'));
  try {
    return cells.map((cell) => {
      const run = structuredClone(asked.base_run_config) as Record<string, any>;
      const recOverrides: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(cell.set)) {
        if (k.startsWith('recursive.')) recOverrides[k.slice('recursive.'.length)] = v;
        else setPath(run, k, v);
      }
      run.seed = cell.seed;
      const runFile = path.join(tmp, `${cell.name}.run_config.json`);
      fs.writeFileSync(runFile, JSON.stringify(run));
      try {
        const phase = typeof run.phase === 'string' ? run.phase : 'baseline';
        const recPath = asked.recursive_config ?? defaultRecursiveConfigPath(phase as never);
        const recursive = parseRecursiveConfig({ ...loadRecursiveConfig(recPath), ...recOverrides }, `${recPath} + --set`);
        const recFile = path.join(tmp, `${cell.name}.recursive_config.json`);
        fs.writeFileSync(recFile, JSON.stringify(recursive));
        const r = resolveRunFlags({ runConfig: runFile, recursiveConfig: recFile, experimentDir: sweepDir, experimentName: cell.name });
        if (r.runConfig.hf_repo !== null) throw new CliError('hf_repo: a sweep does not upload its cells; upload the runs you choose afterwards with reclin upload');
        return {
          cell: { ...cell, run_config: `cells/${cell.name}.run_config.json`, recursive_config: `cells/${cell.name}.recursive_config.json`, log: `logs/${cell.name}.log` },
          run: r.runConfig,
          recursive,
        };
      } catch (e) {
        const msg = (e as Error).message.split(`${tmp}${path.sep}`).join('');
        throw new CliError(`cell ${cell.name} (${cell.group}, seed ${cell.seed}): ${msg}`);
      }
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A cell's state read from its run directory (the truth), keeping this sweep's attempt count and times. */
export function observeCell(sweepDir: string, cell: ManifestCell, prev: CellState | undefined): CellState {
  const dir = path.join(sweepDir, cell.name);
  const base: CellState = { attempts: 0, ...prev, status: 'pending', step: null };
  if (!fs.existsSync(path.join(dir, 'experiment_metadata.json'))) return base;
  const st = readRunStatus(dir);
  const step = st.recorded?.step ?? null;
  const status: CellStatus = st.stale ? 'stale' : (st.status as CellStatus);
  const error = st.recorded?.error?.message;
  return { ...base, status, step, ...(error ? { error } : {}) };
}
