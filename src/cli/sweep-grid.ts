// What a sweep asks for: seeds (`0-4`, `0,2,5`), axes (`--set optimizer.lr=1e-3,3e-3`, or `grid` in a sweep
// file), and their product, the cells. Parsing only; every refusal names the flag, the value and what is allowed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRecursiveConfig, parseRunConfig } from '../experiment';
import { CliError } from './errors';

export interface Axis {
  /** A run config field ("optimizer.lr", "phase") or a recursive config field ("recursive.max_inner_steps"). */
  key: string;
  values: unknown[];
}

export interface Cell {
  index: number;
  /** Run directory name: the varying values, then the seed ("optimizer.lr-0.001_s0"). */
  name: string;
  seed: number;
  /** Field -> value for every axis (one value each). */
  set: Record<string, unknown>;
  /** The cell's arm: its values of the axes that vary ("optimizer.lr=0.001"); cells of one group differ only in the seed. */
  group: string;
}

const MAX_SEEDS = 10_000;

/** "0-4" (inclusive), "0,2,5", "7", or a mix ("0-2,10"); ascending order, no duplicates. */
export function parseSeeds(spec: string, flag = '--seeds'): number[] {
  const bad = (why: string) => new CliError(`${flag}: got ${JSON.stringify(spec)}, ${why}; allowed: seeds as "0-4" (inclusive range), "0,2,5" or a mix such as "0-2,10" (integers >= 0)`);
  if (typeof spec !== 'string' || spec.trim() === '') throw bad('which is empty');
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const p = part.trim();
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(p);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw bad(`"${p}" is out of range`);
      if (b < a) throw bad(`"${p}" ends before it starts`);
      if (b - a + 1 > MAX_SEEDS) throw bad(`"${p}" has more than ${MAX_SEEDS} seeds`);
      for (let s = a; s <= b; s++) out.add(s);
    } else if (/^\d+$/.test(p) && Number.isSafeInteger(Number(p))) out.add(Number(p));
    else throw bad(`"${p}" is not a seed or a range`);
  }
  return [...out].sort((x, y) => x - y);
}

/** Splits on commas outside brackets and quotes, so list values ("[0,1]") survive. */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const ch of text) {
    if (ch === '"') quote = !quote;
    if (!quote && (ch === '[' || ch === '{')) depth++;
    if (!quote && (ch === ']' || ch === '}')) depth--;
    if (ch === ',' && depth === 0 && !quote) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** A value as JSON when it is JSON (numbers, true, null, "text", [0,1]), else the text itself. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const RUN_FIELDS = Object.keys(flattenKeys(parseRunConfig({}, 'defaults')));
const RECURSIVE_FIELDS = Object.keys(parseRecursiveConfig({}, 'defaults')).map((k) => `recursive.${k}`);

function flattenKeys(obj: unknown, prefix = '', out: Record<string, true> = {}): Record<string, true> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flattenKeys(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = true;
  return out;
}

/** Checks that `key` names a config field a sweep may vary. */
export function checkAxisKey(key: string, flag = '--set'): void {
  if (key === 'seed') throw new CliError(`${flag}: "seed" is set by --seeds (e.g. --seeds 0-4), not by ${flag}`);
  if (RUN_FIELDS.includes(key) || RECURSIVE_FIELDS.includes(key)) return;
  const near = [...RUN_FIELDS, ...RECURSIVE_FIELDS].filter((f) => f.split('.').pop() === key.split('.').pop());
  throw new CliError(
    `${flag}: unknown field ${JSON.stringify(key)}${near.length ? ` (did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}?)` : ''}; allowed: a run config field (${RUN_FIELDS.filter((f) => f !== 'seed').join(', ')}) or recursive.<field> of the recursive config`,
  );
}

/** `field=v1,v2,...` -> an axis. */
export function parseSetFlag(spec: string): Axis {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new CliError(`--set: got ${JSON.stringify(spec)}; allowed: field=value[,value...], e.g. optimizer.lr=1e-3,3e-3`);
  const key = spec.slice(0, eq).trim();
  checkAxisKey(key);
  const raw = spec.slice(eq + 1);
  const values = splitValues(raw).map(parseValue);
  if (raw.trim() === '' || values.some((v) => v === '')) throw new CliError(`--set: ${key} has an empty value in ${JSON.stringify(spec)}; allowed: field=value[,value...]`);
  return { key, values };
}

/** A sweep file: { "run_config"?: path, "recursive_config"?: path, "seeds"?: "0-4" | [0, 1], "grid"?: { field: [values] } }. */
export interface SweepFile {
  runConfig?: string;
  recursiveConfig?: string;
  seeds?: number[];
  axes: Axis[];
}

export function readSweepFile(file: string): SweepFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--sweep-file: ${file} is not readable JSON (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CliError(`--sweep-file: ${file} must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  const allowed = ['run_config', 'recursive_config', 'seeds', 'grid', 'description'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new CliError(`--sweep-file: ${file}: unknown key ${JSON.stringify(k)}; allowed: ${allowed.join(', ')}`);
  const rel = (k: string) => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new CliError(`--sweep-file: ${file}: ${k}: got ${JSON.stringify(v)}, allowed: a file path (relative to the sweep file)`);
    return path.resolve(path.dirname(file), v);
  };
  let seeds: number[] | undefined;
  if (typeof o.seeds === 'string') seeds = parseSeeds(o.seeds, `--sweep-file ${file}: seeds`);
  else if (Array.isArray(o.seeds) && o.seeds.length > 0 && o.seeds.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)) seeds = [...new Set(o.seeds as number[])].sort((a, b) => a - b);
  else if (o.seeds !== undefined) throw new CliError(`--sweep-file: ${file}: seeds: got ${JSON.stringify(o.seeds)}, allowed: "0-4", "0,2,5" or a non-empty list of integers >= 0`);
  const axes: Axis[] = [];
  if (o.grid !== undefined) {
    if (o.grid === null || typeof o.grid !== 'object' || Array.isArray(o.grid)) throw new CliError(`--sweep-file: ${file}: grid: expected an object of field -> list of values`);
    for (const [key, values] of Object.entries(o.grid as Record<string, unknown>)) {
      checkAxisKey(key, `--sweep-file ${file}: grid`);
      if (!Array.isArray(values) || values.length === 0) throw new CliError(`--sweep-file: ${file}: grid.${key}: got ${JSON.stringify(values)}, allowed: a non-empty list of values`);
      axes.push({ key, values });
    }
  }
  return { runConfig: rel('run_config'), recursiveConfig: rel('recursive_config'), seeds, axes };
}

function slug(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** The product of the axes and the seeds; refuses an empty grid and an axis given twice. */
export function expandGrid(axes: Axis[], seeds: number[]): Cell[] {
  const keys = new Set<string>();
  for (const a of axes) {
    if (keys.has(a.key)) throw new CliError(`--set: ${a.key} is given twice; give every value in one --set (${a.key}=v1,v2)`);
    keys.add(a.key);
    if (a.values.length === 0) throw new CliError(`--set: ${a.key} has no values: the grid would be empty`);
    const seen = new Set(a.values.map((v) => JSON.stringify(v)));
    if (seen.size !== a.values.length) throw new CliError(`--set: ${a.key} lists a value twice (${a.values.map((v) => JSON.stringify(v)).join(', ')})`);
  }
  if (seeds.length === 0) throw new CliError('--seeds: no seeds: the grid would be empty');
  let combos: Record<string, unknown>[] = [{}];
  for (const a of axes) combos = combos.flatMap((c) => a.values.map((v) => ({ ...c, [a.key]: v })));
  const varying = axes.filter((a) => a.values.length > 1).map((a) => a.key);
  const cells: Cell[] = [];
  const names = new Set<string>();
  for (const set of combos) {
    // Only the axes with several values tell the arms apart; the one-valued ones are the same in every cell.
    const group = varying.length ? varying.map((k) => `${k}=${typeof set[k] === 'string' ? set[k] : JSON.stringify(set[k])}`).join(',') : 'all';
    for (const seed of seeds) {
      let name = [...varying.map((k) => `${k}-${slug(set[k])}`), `s${seed}`].join('_');
      if (!/^[A-Za-z0-9]/.test(name)) name = `c${name}`;
      if (names.has(name)) name = `c${cells.length}_${name}`;
      names.add(name);
      cells.push({ index: cells.length, name, seed, set, group });
    }
  }
  return cells;
}
