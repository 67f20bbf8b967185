// Statistics of runs in groups (the arms of a sweep, or runs grouped by a config field): per group and metric
// n, mean, sd and intervals over seeds; each group against a reference group, paired by seed when both ran the
// same seeds, else Welch; and per step, the mean curve with its 95% interval band.
import { pairedDifference, verdictSentence, welchDifference, type Difference } from './difference';
import { bootstrapInterval, summarize, type Interval, type Summary } from './summary';

export interface GroupedRun {
  group: string;
  seed: number | null;
  /** The value each metric had when the run ended (its last logged value). */
  final: Record<string, number>;
  series: Record<string, [number, number][]>;
}

export interface MetricStats extends Summary {
  /** Exact bootstrap percentile interval, for metrics bounded in [0, 1] (accuracy, exact match). */
  bootstrap?: Interval;
}

export interface GroupStats {
  group: string;
  runs: number;
  seeds: (number | null)[];
  metrics: Record<string, MetricStats>;
}

export interface GroupComparison {
  a: string;
  b: string;
  metric: string;
  difference: Difference;
  /** Seeds used for pairing (paired only). */
  seeds?: number[];
  /** Why the comparison is not (fully) paired, or which runs were left out of the pairing. */
  note?: string;
  sentence: string;
}

/** Metrics whose values can only lie in [0, 1], from the name and the values. */
export function isBounded01(metric: string, values: number[]): boolean {
  const leaf = metric.split('/').pop()!.toLowerCase();
  return /(acc|accuracy|exact|match|rate)/.test(leaf) && values.every((v) => v >= 0 && v <= 1);
}

/** Groups in first-seen order. */
export function groupRuns(runs: GroupedRun[]): Map<string, GroupedRun[]> {
  const out = new Map<string, GroupedRun[]>();
  for (const r of runs) {
    const list = out.get(r.group) ?? [];
    list.push(r);
    out.set(r.group, list);
  }
  return out;
}

export function groupStatistics(runs: GroupedRun[]): GroupStats[] {
  const out: GroupStats[] = [];
  for (const [group, list] of groupRuns(runs)) {
    const metrics: Record<string, MetricStats> = {};
    const names = [...new Set(list.flatMap((r) => Object.keys(r.final)))].sort();
    for (const name of names) {
      const values = list.map((r) => r.final[name]).filter((v): v is number => Number.isFinite(v));
      if (values.length === 0) continue;
      const s: MetricStats = summarize(values);
      if (values.length >= 2 && isBounded01(name, values)) s.bootstrap = bootstrapInterval(values);
      metrics[name] = s;
    }
    out.push({ group, runs: list.length, seeds: list.map((r) => r.seed), metrics });
  }
  return out;
}

/** `a` against reference `b` on one metric: paired on the seeds both ran (each once), else Welch. */
export function compareGroups(a: string, aRuns: GroupedRun[], b: string, bRuns: GroupedRun[], metric: string, better?: 'min' | 'max', labels?: { a: string; b: string }): GroupComparison | undefined {
  const val = (r: GroupedRun) => r.final[metric];
  const fa = aRuns.filter((r) => Number.isFinite(val(r)));
  const fb = bRuns.filter((r) => Number.isFinite(val(r)));
  if (fa.length === 0 || fb.length === 0) return undefined;
  const bySeed = (rs: GroupedRun[]) => {
    const m = new Map<number, GroupedRun[]>();
    for (const r of rs) if (r.seed !== null) m.set(r.seed, [...(m.get(r.seed) ?? []), r]);
    return m;
  };
  const sa = bySeed(fa);
  const sb = bySeed(fb);
  const common = [...sa.keys()].filter((s) => sb.has(s) && sa.get(s)!.length === 1 && sb.get(s)!.length === 1).sort((x, y) => x - y);
  let difference: Difference;
  let note: string | undefined;
  let seeds: number[] | undefined;
  if (common.length >= 2) {
    seeds = common;
    difference = pairedDifference(common.map((s) => val(sa.get(s)![0])), common.map((s) => val(sb.get(s)![0])));
    const left = fa.length + fb.length - 2 * common.length;
    if (left > 0) note = `${left} run(s) without a partner on the same seed left out of the pairing`;
  } else {
    difference = welchDifference(fa.map(val), fb.map(val));
    note = 'not paired: the groups do not share at least two seeds (each run once), so Welch\'s test on independent samples';
  }
  const la = labels?.a ?? a;
  const lb = labels?.b ?? b;
  return { a, b, metric, difference, seeds, note, sentence: verdictSentence(la, lb, metric, difference, { better }) };
}

/** Per step logged by every run of the group: the mean and its 95% t interval (no band with one run). */
export function meanCurve(list: GroupedRun[], metric: string): { points: [number, number][]; band: [number, number, number][] } {
  const maps = list.map((r) => new Map((r.series[metric] ?? []).filter(([, v]) => Number.isFinite(v))));
  const steps = [...(maps[0]?.keys() ?? [])].filter((s) => maps.every((m) => m.has(s))).sort((x, y) => x - y);
  const points: [number, number][] = [];
  const band: [number, number, number][] = [];
  for (const step of steps) {
    const s = summarize(maps.map((m) => m.get(step)!));
    points.push([step, s.mean]);
    if (s.ci) band.push([step, s.ci.low, s.ci.high]);
  }
  return { points, band };
}
