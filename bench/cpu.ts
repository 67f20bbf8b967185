// reclin side of `npm run bench:cpu` and the table: times kda.forward/backward, ops.matmul and adamw.step through
// the public API, runs bench/torch_cpu.py for the PyTorch side of each group right after its own rows (so both see
// similar machine load), and prints one table of medians. Ops not on this build print "n/a (not built)".
//   node --import tsx bench/cpu.ts [--only=kda,adamw,gemm] [--quick] [--threads=2] [--kda-shapes='B,T,H,K,V;...']
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as reclin from '../src';
import type { Tensor } from '../src';

// ---- the API under test, looked up loosely: kda and matmul are written concurrently by other helpers ----------
interface KdaApi {
  forward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, opts?: object): { o: Tensor; finalState: Tensor };
  backward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, dO: Tensor, opts?: object): Record<string, Tensor | null>;
}
const api = reclin as unknown as {
  kda?: KdaApi;
  ops?: { matmul?: (a: Tensor, b: Tensor, opts?: object) => Tensor };
};

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = args.includes('--quick');
const threads = Number(flag('threads') ?? 2);
const groups = (flag('only') ?? 'kda,adamw,gemm').split(',');
const root = path.resolve(__dirname, '..');
const python = process.env.RECLIN_BENCH_PYTHON ?? path.join(root, '.bench', 'venv', 'bin', 'python');

const KDA_SHAPES = (flag('kda-shapes') ?? '1,1024,4,64,64;4,2048,8,64,64;1,4096,4,128,128')
  .split(';')
  .map((s) => s.split(',').map(Number) as [number, number, number, number, number]);
const ADAMW_SIZES = [1e6, 1e7];
const GEMM_SIZES = [1024, 2048];
const CHUNK = 64;

// ---- timing -------------------------------------------------------------------------------------------------
/** Wall times in ms: warmups, then at least 5 runs (3 with --quick), up to 30 or until ~3 s (1 s) have passed. */
function timeit(fn: () => void): number[] {
  for (let i = 0; i < (quick ? 1 : 2); i++) fn();
  const times: number[] = [];
  const start = performance.now();
  for (;;) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    if (times.length >= 30 || (times.length >= (quick ? 3 : 5) && performance.now() - start > (quick ? 1000 : 3000))) return times;
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---- inputs (same distributions as bench/torch_cpu.py) --------------------------------------------------------
let seed = 12345;
function uniform01(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return (seed + 0.5) / 4294967296;
}
function randn(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uniform01())) * Math.cos(2 * Math.PI * uniform01());
  return out;
}
/** randn rows of length d, each L2-normalised (as the KDA layer does to q and k). */
function unitRows(rows: number, d: number): Float32Array {
  const x = randn(rows * d);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] ** 2;
    const inv = 1 / Math.sqrt(s + 1e-6);
    for (let j = 0; j < d; j++) x[r * d + j] *= inv;
  }
  return x;
}
const logsigmoid = (x: number) => -Math.log1p(Math.exp(-x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// ---- rows -----------------------------------------------------------------------------------------------------
interface Row {
  op: string;
  shape: string;
  key: string; // matches the "row" field of bench/torch_cpu.py
  work: number; // FLOPs or bytes per call
  unit: 'GFLOP/s' | 'GB/s';
  target?: number; // the ratio (PyTorch ms / reclin ms) to reach
  reclin?: number[] | string; // times, or why there are none
  torch?: number[] | string;
  torchNote?: string;
}

function notBuilt(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  return /has no op|not built|is not a function|Cannot read properties of undefined/.test(msg) ? 'n/a (not built)' : `error: ${msg.split('\n')[0].slice(0, 60)}`;
}

/** FLOPs per token per head, KDA_SPEC §3.2 (what chunked kernels do at chunk C). */
const kdaFwdFlops = (K: number, V: number, C = CHUNK) => 6 * K * V + 4 * C * K + 4 * C * V + (C * C) / 2;
const kdaBwdFlops = (K: number, V: number, C = CHUNK) => 16 * K * V + 10 * C * K + 10 * C * V + 4 * C * C;

function kdaRows(): Row[] {
  const rows: Row[] = [];
  for (const [B, T, H, K, V] of KDA_SHAPES) {
    const shape = `${B},${T},${H},${K},${V}`;
    const tokHeads = B * T * H;
    const isTarget = B === 4 && T === 2048 && H === 8 && K === 64 && V === 64;
    const fwd: Row = { op: 'KDA forward', shape, key: `kda_fwd ${shape}`, work: tokHeads * kdaFwdFlops(K, V), unit: 'GFLOP/s' };
    const fb: Row = { op: 'KDA fwd+bwd', shape, key: `kda_fwdbwd ${shape}`, work: tokHeads * (kdaFwdFlops(K, V) + kdaBwdFlops(K, V)), unit: 'GFLOP/s', target: isTarget ? 4 : undefined };
    rows.push(fwd, fb);
    const kda = api.kda;
    if (!kda || typeof kda.forward !== 'function') {
      fwd.reclin = fb.reclin = 'n/a (not built)';
      continue;
    }
    const { Tensor } = reclin;
    const q = Tensor.from(unitRows(tokHeads, K), [B, T, H, K]);
    const k = Tensor.from(unitRows(tokHeads, K), [B, T, H, K]);
    const v = Tensor.from(randn(tokHeads * V), [B, T, H, V]);
    const g = Tensor.from(randn(tokHeads * K).map((x) => logsigmoid(x) / 16), [B, T, H, K]);
    const beta = Tensor.from(randn(tokHeads).map(sigmoid), [B, T, H]);
    const dO = Tensor.from(randn(tokHeads * V), [B, T, H, V]);
    const dispose = (r: Record<string, Tensor | null>) => Object.values(r).forEach((t) => t?.dispose());
    try {
      fwd.reclin = timeit(() => dispose(kda.forward(q, k, v, g, beta)));
    } catch (e) {
      fwd.reclin = notBuilt(e);
    }
    try {
      fb.reclin = timeit(() => {
        dispose(kda.forward(q, k, v, g, beta));
        dispose(kda.backward(q, k, v, g, beta, dO));
      });
    } catch (e) {
      fb.reclin = notBuilt(e);
    }
    [q, k, v, g, beta, dO].forEach((t) => t.dispose());
  }
  return rows;
}

function adamwRows(): Row[] {
  return ADAMW_SIZES.map((n) => {
    const row: Row = { op: 'AdamW step', shape: `${n.toExponential(0).replace('+', '')} params`, key: `adamw ${n}`, work: 28 * n, unit: 'GB/s', target: n === 1e7 ? 0.9 : undefined };
    const { Tensor, adamw } = reclin;
    const p = Tensor.from(randn(n), [n]);
    const g = Tensor.from(randn(n), [n]);
    const m = Tensor.zeros([n]);
    const v = Tensor.zeros([n]);
    let step = 0;
    try {
      row.reclin = timeit(() => adamw.step([p], [g], [m], [v], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step }));
    } catch (e) {
      row.reclin = notBuilt(e);
    }
    [p, g, m, v].forEach((t) => t.dispose());
    return row;
  });
}

function gemmRows(): Row[] {
  return GEMM_SIZES.map((n) => {
    const row: Row = { op: 'GEMM (matmul)', shape: `${n}x${n}x${n}`, key: `gemm ${n}`, work: 2 * n ** 3, unit: 'GFLOP/s', target: 0.6 };
    const matmul = api.ops?.matmul;
    if (typeof matmul !== 'function') {
      row.reclin = 'n/a (not built)';
      return row;
    }
    const { Tensor } = reclin;
    const a = Tensor.from(randn(n * n), [n, n]);
    const b = Tensor.from(randn(n * n), [n, n]);
    try {
      row.reclin = timeit(() => matmul(a, b).dispose());
    } catch (e) {
      row.reclin = notBuilt(e);
    }
    a.dispose();
    b.dispose();
    return row;
  });
}

// ---- the PyTorch side ------------------------------------------------------------------------------------------
const torchInfo: Record<string, unknown> = {};
function runTorch(group: string, rows: Row[]): void {
  if (!fs.existsSync(python)) {
    rows.forEach((r) => (r.torch = 'n/a (no torch venv)'));
    return;
  }
  const r = spawnSync(python, [path.join(root, 'bench', 'torch_cpu.py'), '--threads', String(threads), '--rows', group, '--kda-shapes', KDA_SHAPES.map((x) => x.join(',')).join(';'), ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const byKey = new Map<string, { ms: number[]; mode?: string }>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line);
    if (o.info) Object.assign(torchInfo, o.info);
    else byKey.set(o.row, o);
  }
  for (const row of rows) {
    const t = byKey.get(row.key);
    row.torch = t ? t.ms : r.status === 0 ? 'n/a' : `error (exit ${r.status})`;
    if (t?.mode && t.mode !== 'fused') row.torchNote = `torch AdamW ${t.mode}`;
  }
}

// ---- the table -------------------------------------------------------------------------------------------------
function fmtMs(x: number[] | string | undefined): string {
  if (x === undefined) return '-';
  if (typeof x === 'string') return x;
  const m = median(x);
  return m >= 100 ? m.toFixed(0) : m >= 10 ? m.toFixed(1) : m.toFixed(2);
}

function printTable(rows: Row[]): void {
  const header = ['operation', 'shape', 'reclin ms', 'PyTorch ms', 'ratio', 'ratio best', 'reclin rate', 'PyTorch rate', 'target', 'met'];
  const body = rows.map((r) => {
    const have = Array.isArray(r.reclin) && Array.isArray(r.torch);
    const ratio = have ? median(r.torch as number[]) / median(r.reclin as number[]) : undefined;
    const best = have ? Math.min(...(r.torch as number[])) / Math.min(...(r.reclin as number[])) : undefined;
    const rate = (t: number[] | string | undefined) => (Array.isArray(t) ? `${(r.work / (median(t) * 1e6)).toFixed(1)} ${r.unit}` : '-');
    const target = r.target === undefined ? '-' : `ratio >= ${r.target}`;
    const met = r.target === undefined || ratio === undefined ? '-' : ratio >= r.target ? 'yes' : 'NO';
    return [r.op, r.shape, fmtMs(r.reclin), fmtMs(r.torch), ratio?.toFixed(2) ?? '-', best?.toFixed(2) ?? '-', rate(r.reclin), rate(r.torch), target, met];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  body.forEach((b) => console.log(line(b)));
}

function main(): void {
  reclin.setNumThreads(threads);
  const cpus = os.cpus();
  const build = reclin.loadAddon().binding.buildInfo();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const rows: Row[] = [];
  const plan: [string, () => Row[]][] = [
    ['kda', kdaRows],
    ['adamw', adamwRows],
    ['gemm', gemmRows],
  ];
  for (const [group, make] of plan) {
    if (!groups.includes(group)) continue;
    process.stderr.write(`bench: ${group} (reclin) ...\n`);
    const rs = make();
    process.stderr.write(`bench: ${group} (PyTorch) ...\n`);
    runTorch(group, rs);
    rows.push(...rs);
  }
  console.log(`machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? '(unset: OpenMP default)'} for both sides`);
  console.log(`reclin ${pkg.version} (${build.compiler}, OpenMP ${build.openmp}, ${reclin.getNumThreads()} threads); node ${process.version}; PyTorch ${torchInfo.torch ?? 'n/a'} (${torchInfo.threads ?? '?'} threads, ${torchInfo.capability ?? '?'})`);
  if (torchInfo.kda_check_max_rel_err !== undefined)
    console.log(`PyTorch chunked KDA (bench/torch_cpu.py) checked against its recurrent form, float64: max rel err ${(torchInfo.kda_check_max_rel_err as number).toExponential(1)}`);
  console.log('fp32, medians of >= 5 timed runs after warmup; ratio = PyTorch ms / reclin ms (> 1: reclin faster); ratio best = the same with each side\'s fastest run.');
  console.log('KDA GFLOP/s count KDA_SPEC §3.2 FLOPs (fwd 6KV+4CK+4CV+C²/2, bwd 16KV+10CK+10CV+4C² per token and head, C=64); AdamW GB/s count 28 bytes/param.');
  printTable(rows);
  const notes = rows.filter((r) => r.torchNote).map((r) => `${r.shape}: ${r.torchNote}`);
  if (notes.length) console.log(`notes: ${notes.join('; ')}`);
  if (groups.includes('adamw')) console.log('PyTorch AdamW: torch.optim.AdamW(fused=True) unless noted; one tensor per step on both sides.');
}

main();
