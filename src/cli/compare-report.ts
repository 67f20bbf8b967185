// The comparison of several runs, independent of how they were read: the config keys whose values differ,
// the final and best value of every metric side by side, and the HTML report (tables + one SVG chart per
// loss/eval metric). Pure functions of RunSummary, so the text and the HTML say the same thing.
import { escapeXml, lineChartSvg } from './svg-chart';

export interface RunSummary {
  /** Short label (the directory name). */
  name: string;
  dir: string;
  status: string;
  /** Resolved configs, flattened to dotted keys ("run.optimizer.lr", "recursive.chunk_width"). */
  config: Record<string, unknown>;
  /** Every scalar metric as [step, value] pairs, in step order. */
  series: Record<string, [number, number][]>;
}

export type MetricMode = 'min' | 'max';

/** Which direction is better, from the metric's name; undefined when the name does not say. */
export function metricMode(name: string): MetricMode | undefined {
  const leaf = name.split('/').pop()!.toLowerCase();
  if (/(acc|accuracy|exact|match|f1|score|commit_rate)/.test(leaf)) return 'max';
  // Losses, and the denoising terms (each is a loss term of the recursive objective).
  if (/(loss|ppl|perplexity|error|ponder|(^|_)ce(_|$)|^denoise_)/.test(leaf)) return 'min';
  return undefined;
}

export function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    const entries = Object.entries(obj as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = {};
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = obj;
  }
  return out;
}

export function show(v: unknown): string {
  if (v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Config keys whose values are not all equal (a key missing from a run counts as different). */
export function configDiff(runs: RunSummary[], all = false): { key: string; values: unknown[] }[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.config)))].sort();
  return keys
    .map((key) => ({ key, values: runs.map((r) => r.config[key]) }))
    .filter((row) => all || new Set(row.values.map((v) => JSON.stringify(v))).size > 1);
}

export interface MetricCell {
  final?: { step: number; value: number };
  best?: { step: number; value: number };
  /** For throughput (perf/*): the mean over the run, in place of the last instant. */
  mean?: { value: number; count: number };
}

/** Throughput metrics are summarised by their mean over the run: the last log is one step's instant. */
export function isThroughput(metric: string): boolean {
  return metric.startsWith('perf/');
}

/**
 * Mean of per-step rates over the run. Each perf/tokens_per_s log is one step's tokens over its time, with the
 * same tokens every step, so the run's rate (all tokens / all time) is the harmonic mean of the logged rates.
 */
export function meanRate(points: [number, number][]): { value: number; count: number } | undefined {
  const ok = points.filter(([, v]) => Number.isFinite(v) && v > 0);
  if (ok.length === 0) return undefined;
  return { value: ok.length / ok.reduce((s, [, v]) => s + 1 / v, 0), count: ok.length };
}

/**
 * A run's metric that also has sub-metrics `<metric>/<term>` is their weighted sum (the recursive objective of
 * phases a-c logs train/loss this way), not a cross-entropy: it is never drawn on the same axes as one.
 */
export function isWeightedTotal(run: RunSummary, metric: string): boolean {
  return Object.keys(run.series).some((k) => k.startsWith(`${metric}/`));
}

/** Per metric, per run: the last logged value and the best one (when the metric's direction is known). */
export function metricTable(runs: RunSummary[]): { metric: string; mode?: MetricMode; cells: MetricCell[] }[] {
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.series)))].sort();
  return metrics.map((metric) => {
    const mode = metricMode(metric);
    const cells = runs.map((r): MetricCell => {
      const pts = (r.series[metric] ?? []).filter(([, v]) => Number.isFinite(v));
      const lastLogged = r.series[metric]?.at(-1);
      const cell: MetricCell = {};
      if (lastLogged) cell.final = { step: lastLogged[0], value: lastLogged[1] };
      if (isThroughput(metric)) cell.mean = meanRate(r.series[metric] ?? []);
      if (mode && pts.length > 0) {
        const best = pts.reduce((b, p) => ((mode === 'min' ? p[1] < b[1] : p[1] > b[1]) ? p : b));
        cell.best = { step: best[0], value: best[1] };
      }
      return cell;
    });
    return { metric, mode, cells };
  });
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

const cellText = (c?: { step: number; value: number }) => (c ? `${show(c.value)} @${c.step}` : '—');
/** The first column of a metric row: the final value, or the mean over the run for throughput. */
const firstText = (metric: string, c: MetricCell) => (isThroughput(metric) ? (c.mean ? `mean ${show(c.mean.value)} (${c.mean.count} logs)` : '—') : cellText(c.final));
const weightedNote = (runs: RunSummary[]) => {
  const w = runs.filter((r) => isWeightedTotal(r, 'train/loss')).map((r) => r.name);
  return w.length ? `train/loss of ${w.join(', ')} is the weighted recursive objective (the sum of its train/loss/* terms), not a cross-entropy.` : '';
};

export function renderText(runs: RunSummary[], opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  out.push(pad([['run', 'status', 'dir'], ...runs.map((r) => [r.name, r.status, r.dir])]));
  const diff = configDiff(runs, opts.all);
  out.push('', opts.all ? 'config:' : `config differences (${diff.length}):`);
  if (diff.length) out.push(pad([['key', ...runs.map((r) => r.name)], ...diff.map((d) => [d.key, ...d.values.map(show)])]));
  else out.push('  none');
  const table = metricTable(runs);
  out.push('', 'metrics (final value @step, for perf/* the mean over the run; best @step where lower/higher is known to be better):');
  const rows: string[][] = [['metric', ...runs.flatMap((r) => [`${r.name} final`, `${r.name} best`])]];
  for (const t of table) rows.push([`${t.metric}${t.mode ? ` (${t.mode})` : ''}`, ...t.cells.flatMap((c) => [firstText(t.metric, c), cellText(c.best)])]);
  out.push(table.length ? pad(rows) : '  none logged');
  if (weightedNote(runs)) out.push(weightedNote(runs));
  return out.join('\n') + '\n';
}

/** Metrics that get a chart: losses and anything evaluated, plus the named extras. */
export function chartedMetrics(runs: RunSummary[]): string[] {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.series)))].sort();
  return names.filter((n) => /loss/i.test(n) || /^eval\//.test(n));
}

export function renderHtml(runs: RunSummary[], opts: { title?: string; generatedAt?: string } = {}): string {
  const e = (v: unknown) => escapeXml(show(v));
  const title = opts.title ?? `reclin compare: ${runs.map((r) => r.name).join(' vs ')}`;
  const table = (head: string[], body: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${body
      .map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const diff = configDiff(runs);
  const metrics = metricTable(runs);
  // A weighted total and a cross-entropy of the same name get separate charts (different quantities).
  const charts = chartedMetrics(runs).flatMap((m) => {
    const has = runs.filter((r) => r.series[m]);
    const plain = has.filter((r) => !isWeightedTotal(r, m));
    const weighted = has.filter((r) => isWeightedTotal(r, m));
    return [
      ...(plain.length ? [{ title: m, runs: plain }] : []),
      ...(weighted.length ? [{ title: `${m} (weighted objective: sum of its ${m}/* terms)`, runs: weighted }] : []),
    ].map((c) => lineChartSvg(c.runs.map((r) => ({ name: r.name, points: r.series[m] })), { title: c.title }));
  });
  return [
    '<!DOCTYPE html>',
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}' +
      'th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}th{background:#f4f4f4}' +
      'figure{display:inline-block;margin:0.5em}</style></head><body>',
    `<h1>${escapeXml(title)}</h1>`,
    opts.generatedAt ? `<p>Generated ${escapeXml(opts.generatedAt)}.</p>` : '',
    '<h2>Runs</h2>',
    table(['run', 'status', 'directory'], runs.map((r) => [escapeXml(r.name), escapeXml(r.status), escapeXml(r.dir)])),
    `<h2>Config differences (${diff.length})</h2>`,
    diff.length ? table(['key', ...runs.map((r) => r.name)], diff.map((d) => [escapeXml(d.key), ...d.values.map(e)])) : '<p>The configs are identical.</p>',
    '<h2>Metrics</h2>',
    '<p>Final = the last logged value (for throughput, perf/*, the mean over the run); best = the lowest (min) or highest (max) value, for metrics whose direction the name tells.</p>',
    weightedNote(runs) ? `<p>${escapeXml(weightedNote(runs))}</p>` : '',
    metrics.length
      ? table(
          ['metric', ...runs.flatMap((r) => [`${r.name} final`, `${r.name} best`])],
          metrics.map((t) => [`${escapeXml(t.metric)}${t.mode ? ` (${t.mode})` : ''}`, ...t.cells.flatMap((c) => [escapeXml(firstText(t.metric, c)), escapeXml(cellText(c.best))])]),
        )
      : '<p>No metrics logged.</p>',
    '<h2>Curves</h2>',
    charts.length ? charts.map((svg) => `<figure>${svg}</figure>`).join('\n') : '<p>No loss or eval curves logged.</p>',
    '</body></html>',
    '',
  ].join('\n');
}
