// `reclin compare` with groups (a sweep's arms, or --group-by a config field): the runs of each group are
// seeds of one arm; the report gives per group and metric n, mean, sd and 95% intervals, each group against the
// reference group (paired by seed where possible) with the one-sentence verdict, and mean curves with a band.
// The math is in src/stats; this file only groups RunSummary values and renders text, JSON and HTML.
import { EVAL_SET_METRICS } from '../train/evaluate';
import { compareGroups, groupRuns, groupStatistics, meanCurve, formatP, type GroupComparison, type GroupedRun, type GroupStats } from '../stats';
import { chartedMetrics, configDiff, metricMode, show, type RunSummary } from './compare-report';
import { escapeXml, lineChartSvg } from './svg-chart';
import { CliError } from './errors';

export interface GroupedReport {
  /** What defined the groups ("the sweep's grid" or the --group-by fields). */
  by: string;
  reference: string;
  runs: { name: string; group: string; seed: number | null }[];
  groups: GroupStats[];
  comparisons: GroupComparison[];
}

/** The config value of `field` in a run ("optimizer.lr" is looked up as "run.optimizer.lr" too). */
export function configValue(run: RunSummary, field: string): { key: string; value: unknown } | undefined {
  for (const key of [field, `run.${field}`]) if (key in run.config) return { key, value: run.config[key] };
  return undefined;
}

/** Group labels from config fields: "optimizer.lr=0.001" (several fields joined by ","). */
export function groupByFields(runs: RunSummary[], fields: string[]): string[] {
  return runs.map((r) =>
    fields
      .map((f) => {
        const v = configValue(r, f);
        if (!v) {
          throw new CliError(`--group-by: run ${r.name} has no config field ${JSON.stringify(f)}; allowed: a key of its run config (e.g. phase, optimizer.lr) or recursive.<field>`);
        }
        return `${f}=${typeof v.value === 'string' ? v.value : JSON.stringify(v.value)}`;
      })
      .join(','),
  );
}

/** Final value of every metric of a run (its last logged value), less those that only describe the eval set. */
function finals(r: RunSummary): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pts] of Object.entries(r.series)) if (pts.length && !EVAL_SET_METRICS.includes(k)) out[k] = pts[pts.length - 1][1];
  return out;
}

/** Metrics that get a verdict sentence: the evaluation metrics, else every metric whose direction is known. */
export function verdictMetrics(names: string[]): string[] {
  const evals = names.filter((n) => n.startsWith('eval/'));
  return evals.length ? evals : names.filter((n) => metricMode(n) !== undefined);
}

export function buildGroupedReport(runs: RunSummary[], groups: string[], seeds: (number | null)[], by: string, reference?: string): GroupedReport {
  const grouped: GroupedRun[] = runs.map((r, i) => ({ group: groups[i], seed: seeds[i], final: finals(r), series: r.series }));
  const byGroup = groupRuns(grouped);
  const labels = [...byGroup.keys()];
  if (labels.length < 1) throw new CliError('compare: no runs to group');
  const ref = reference ?? labels[0];
  if (!byGroup.has(ref)) throw new CliError(`--reference: no group ${JSON.stringify(ref)}; the groups are ${labels.map((l) => JSON.stringify(l)).join(', ')}`);
  const stats = groupStatistics(grouped);
  const names = [...new Set(stats.flatMap((g) => Object.keys(g.metrics)))].sort();
  const comparisons: GroupComparison[] = [];
  for (const g of labels) {
    if (g === ref) continue;
    for (const metric of verdictMetrics(names)) {
      const c = compareGroups(g, byGroup.get(g)!, ref, byGroup.get(ref)!, metric, metricMode(metric));
      if (c) comparisons.push(c);
    }
  }
  return { by, reference: ref, runs: runs.map((r, i) => ({ name: r.name, group: groups[i], seed: seeds[i] })), groups: stats, comparisons };
}

const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : show(v));
const interval = (i?: { low: number; high: number }) => (i ? `[${num(i.low)}, ${num(i.high)}]` : '—');

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function statRows(rep: GroupedReport): string[][] {
  const rows: string[][] = [['metric', 'group', 'n', 'mean', 'sd', '95% CI (t)', '95% CI (bootstrap)']];
  const names = [...new Set(rep.groups.flatMap((g) => Object.keys(g.metrics)))].sort();
  for (const m of names) {
    for (const g of rep.groups) {
      const s = g.metrics[m];
      if (!s) continue;
      rows.push([m, g.group, String(s.n), num(s.mean), num(s.sd), interval(s.ci), interval(s.bootstrap)]);
    }
  }
  return rows;
}

function comparisonRows(rep: GroupedReport): string[][] {
  const rows: string[][] = [['metric', 'difference', 'kind', 'n', 'estimate', '95% CI', 't', 'df', 'p (t)', 'p (permutation)', 'effect size']];
  for (const c of rep.comparisons) {
    const d = c.difference;
    rows.push([
      c.metric,
      `${c.a} − ${c.b}`,
      d.kind,
      d.kind === 'paired' ? String(d.n) : `${d.n} vs ${d.nB}`,
      num(d.estimate),
      interval(d.ci),
      num(d.t),
      num(d.df),
      d.p === undefined ? '—' : formatP(d.p),
      d.permutationP === undefined ? '—' : `${formatP(d.permutationP)} (min ${formatP(d.permutationMinP!)})`,
      d.effectSize === undefined ? '—' : `${num(d.effectSize)} (${d.kind === 'paired' ? 'd_z' : 'd'})`,
    ]);
  }
  return rows;
}

const EXPLAIN =
  'Values are each run\'s last logged value. CI (t): mean ± t quantile × sd/√n. CI (bootstrap): exact percentile bootstrap, for metrics bounded in [0, 1]; ' +
  'with few seeds it is narrower than it should be, so read the t interval first. Differences are paired by seed where both groups ran the same seeds ' +
  '(paired t-test; exact sign-flip permutation test, whose smallest attainable p is 2/2^n; d_z = mean/sd of the differences), else Welch\'s t-test. Each sentence is its own test at the 0.05 level: with several metrics, one will look significant by chance sooner or later, so name the primary metric before looking.';

export function renderGroupedText(rep: GroupedReport): string {
  const out: string[] = [];
  out.push(`groups (by ${rep.by}; reference ${rep.reference}):`);
  for (const g of rep.groups) out.push(`  ${g.group}: ${g.runs} run(s), seeds ${g.seeds.map((s) => (s === null ? '?' : String(s))).join(', ')}`);
  out.push('', 'statistics over seeds:');
  out.push(pad(statRows(rep)));
  if (rep.comparisons.length) {
    out.push('', `differences against ${rep.reference}:`);
    out.push(pad(comparisonRows(rep)));
    for (const c of rep.comparisons) if (c.note) out.push(`  note (${c.a}, ${c.metric}): ${c.note}`);
    out.push('');
    for (const c of rep.comparisons) out.push(c.sentence);
  } else out.push('', 'one group only: nothing to compare (group by a field that differs between runs)');
  out.push('', EXPLAIN);
  return out.join('\n') + '\n';
}

export function renderGroupedHtml(runs: RunSummary[], rep: GroupedReport, opts: { title?: string; generatedAt?: string } = {}): string {
  const title = opts.title ?? `reclin compare: ${rep.groups.map((g) => g.group).join(' vs ')}`;
  const table = (rows: string[][]) =>
    `<table><thead><tr>${rows[0].map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .slice(1)
      .map((row) => `<tr>${row.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const byGroup = new Map<string, RunSummary[]>();
  rep.runs.forEach((r, i) => byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), runs[i]]));
  const charts = chartedMetrics(runs).map((metric) =>
    lineChartSvg(
      [...byGroup.entries()].map(([group, list]) => {
        const c = meanCurve(list.map((r) => ({ group, seed: null, final: {}, series: r.series })), metric);
        return { name: `${group} (n=${list.length})`, points: c.points, band: c.band };
      }),
      { title: `${metric}: mean over seeds, band = 95% CI` },
    ),
  );
  const diff = configDiff(runs);
  return [
    '<!DOCTYPE html>',
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}' +
      'th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}th{background:#f4f4f4}' +
      'figure{display:inline-block;margin:0.5em}.verdict{font-size:15px;margin:0.3em 0}</style></head><body>',
    `<h1>${escapeXml(title)}</h1>`,
    opts.generatedAt ? `<p>Generated ${escapeXml(opts.generatedAt)}.</p>` : '',
    '<h2>Verdict</h2>',
    rep.comparisons.length ? rep.comparisons.map((c) => `<p class="verdict">${escapeXml(c.sentence)}</p>`).join('\n') : '<p>One group only: nothing to compare.</p>',
    `<h2>Groups (by ${escapeXml(rep.by)})</h2>`,
    table([['run', 'group', 'seed', 'status', 'directory'], ...rep.runs.map((r, i) => [r.name, r.group, r.seed === null ? '?' : String(r.seed), runs[i].status, runs[i].dir])]),
    '<h2>Statistics over seeds</h2>',
    table(statRows(rep)),
    rep.comparisons.length ? `<h2>Differences against ${escapeXml(rep.reference)}</h2>${table(comparisonRows(rep))}` : '',
    ...rep.comparisons.filter((c) => c.note).map((c) => `<p>Note (${escapeXml(c.a)}, ${escapeXml(c.metric)}): ${escapeXml(c.note!)}</p>`),
    `<p>${escapeXml(EXPLAIN)}</p>`,
    `<h2>Config differences (${diff.length})</h2>`,
    diff.length ? table([['key', ...runs.map((r) => r.name)], ...diff.map((d) => [d.key, ...d.values.map((v) => show(v))])]) : '<p>The configs are identical.</p>',
    '<h2>Curves</h2>',
    charts.length ? charts.map((svg) => `<figure>${svg}</figure>`).join('\n') : '<p>No loss or eval curves logged.</p>',
    '</body></html>',
    '',
  ].join('\n');
}
