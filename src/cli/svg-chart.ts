// A line chart as a self-contained SVG string (no dependencies, no scripts), for the HTML report of
// `reclin compare`: one polyline per run, linear axes with round tick values, a legend. Non-finite points are
// skipped (a NaN loss does not break the chart).

export interface ChartSeries {
  name: string;
  /** [step, value] pairs, any order. */
  points: [number, number][];
  /** Optional shaded band [step, low, high] drawn under the line (e.g. a 95% interval over seeds). */
  band?: [number, number, number][];
}

export interface ChartOptions {
  title: string;
  width?: number;
  height?: number;
  xLabel?: string;
}

// Colour-blind-safe palette (Okabe-Ito).
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export function lineChartSvg(series: ChartSeries[], opts: ChartOptions): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 320;
  const m = { left: 64, right: 16, top: 32, bottom: 44 + 18 * Math.ceil(series.length / 3) };
  const clean = series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]) }));
  const bands = series.map((s) => (s.band ?? []).filter(([x, lo, hi]) => Number.isFinite(x) && Number.isFinite(lo) && Number.isFinite(hi)).sort((a, b) => a[0] - b[0]));
  const all = [...clean.flatMap((s) => s.points), ...bands.flatMap((b) => b.flatMap(([x, lo, hi]): [number, number][] => [[x, lo], [x, hi]]))];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(opts.title)}">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-family="sans-serif" font-size="14">${escapeXml(opts.title)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#666">no data</text></svg>`);
    return parts.join('');
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const r = (v: number) => v.toFixed(1);
  parts.push(`<g font-family="sans-serif" font-size="11" fill="#333">`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${r(sy(t))}" y2="${r(sy(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${r(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${r(sx(t))}" x2="${r(sx(t))}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${r(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 32}" text-anchor="middle">${escapeXml(opts.xLabel ?? 'step')}</text>`);
  clean.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const band = bands[i];
    if (band.length > 1) {
      const edge = [...band.map(([x, , hi]) => `${r(sx(x))},${r(sy(hi))}`), ...band.reverse().map(([x, lo]) => `${r(sx(x))},${r(sy(lo))}`)];
      parts.push(`<polygon fill="${color}" fill-opacity="0.18" stroke="none" points="${edge.join(' ')}"/>`);
    }
    if (s.points.length === 1) {
      const [x, y] = s.points[0];
      parts.push(`<circle cx="${r(sx(x))}" cy="${r(sy(y))}" r="3" fill="${color}"/>`);
    } else if (s.points.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${r(sx(x))},${r(sy(y))}`).join(' ')}"/>`);
    }
    const lx = m.left + (i % 3) * (pw / 3);
    const ly = m.top + ph + 48 + 18 * Math.floor(i / 3);
    parts.push(`<rect x="${r(lx)}" y="${ly - 9}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text x="${r(lx + 16)}" y="${ly - 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</g></svg>');
  return parts.join('');
}
