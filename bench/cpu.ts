// `npm run bench:cpu` (through bench/cpu.sh): reclin against PyTorch on this CPU, fp32, one table.
// reclin is timed through the public API (kda.forward/backward, ops.matmul, adamw.step); PyTorch runs in
// bench/torch_cpu.py as a server, and the two sides' timed calls alternate (reclin, torch, torch, reclin, ...) so
// both see the same load on a shared machine. Ops not on this build print "n/a (not built)".
//   node --import tsx bench/cpu.ts [--only=kda,adamw,gemm,moe,mla] [--quick] [--threads=2] [--kda-shapes='B,T,H,K,V;...']
//     [--moe-shapes='B,T,d,I,E,k,shared;...'] [--mla-shapes='B,T,d,H,rank,nope,rope,v;...']
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as reclin from '../src';
import type { Tensor, Var } from '../src';
import { KimiMoE } from '../src/nn/moe';
import { MLAttention } from '../src/nn/attention';

// ---- the API under test, looked up loosely: a build may lack some of it ------------------------------------------
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
const groups = (flag('only') ?? 'kda,adamw,gemm,moe,mla').split(',');
const root = path.resolve(__dirname, '..');
const python = process.env.RECLIN_BENCH_PYTHON ?? path.join(root, '.bench', 'venv', 'bin', 'python');

const KDA_SHAPES = (flag('kda-shapes') ?? '1,1024,4,64,64;4,2048,8,64,64;1,4096,4,128,128')
  .split(';')
  .map((s) => s.split(',').map(Number) as [number, number, number, number, number]);
const ADAMW_SIZES = [1e6, 1e7];
const GEMM_SIZES = [1024, 2048];
// MoE layer [B, T, d, I, E, k, shared]: a small layer, and the published 48B layer's ratios (hidden 2304, expert
// 1024, 256 experts, top-8, 1 shared) roughly kept at a size a 2-core machine times in seconds.
const MOE_SHAPES = (flag('moe-shapes') ?? (quick ? '1,128,256,128,16,4,1' : '2,256,256,128,16,4,1;1,128,768,384,64,8,1'))
  .split(';')
  .map((s) => s.split(',').map(Number));
// MLA layer [B, T, hidden, heads, kv_lora_rank, qk_nope, qk_rope, v]: the tiny preset's layer, a longer one, and one at
// the published 48B head geometry (nope 128, rope 64, v 128, rank 512) with fewer heads (as bench/mla.ts).
const MLA_SHAPES = (flag('mla-shapes') ?? (quick ? '4,256,256,4,64,32,16,32' : '4,256,256,4,64,32,16,32;1,1024,512,8,128,32,16,32;1,512,1024,4,512,128,64,128'))
  .split(';')
  .map((s) => s.split(',').map(Number));
const CHUNK = 64;
const MIN_RUNS = quick ? 3 : 5;
const MAX_RUNS = 30;
const BUDGET_MS = quick ? 1000 : 3000; // per row, both sides together, once MIN_RUNS are done

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
/** One timed unit of reclin work and how to free its inputs, or why there is none. */
type Prepared = { run: () => void; free: () => void } | string;

interface Row {
  op: string;
  shape: string;
  key: string; // the PyTorch server's row key
  work: number; // FLOPs or bytes per call
  unit: 'GFLOP/s' | 'GB/s';
  target?: number; // the ratio (PyTorch ms / reclin ms) to reach
  prepare: () => Prepared;
  reclin?: number[] | string; // times, or why there are none
  torch?: number[] | string;
  torchMode?: string;
}

const NOT_BUILT = 'n/a (not built)';
const disposeAll = (r: Record<string, Tensor | null>) => Object.values(r).forEach((t) => t?.dispose());

/** FLOPs per token per head, docs/design/kda.md §3.2 (what chunked kernels do at chunk C). */
const kdaFwdFlops = (K: number, V: number, C = CHUNK) => 6 * K * V + 4 * C * K + 4 * C * V + (C * C) / 2;
const kdaBwdFlops = (K: number, V: number, C = CHUNK) => 16 * K * V + 10 * C * K + 10 * C * V + 4 * C * C;

function kdaRows(): Row[] {
  return KDA_SHAPES.flatMap(([B, T, H, K, V]) => {
    const shape = `${B},${T},${H},${K},${V}`;
    const tokHeads = B * T * H;
    const isTarget = shape === '4,2048,8,64,64';
    const prepare = (withBackward: boolean) => (): Prepared => {
      const kda = api.kda;
      if (!kda || typeof kda.forward !== 'function' || typeof kda.backward !== 'function') return NOT_BUILT;
      const { Tensor } = reclin;
      const q = Tensor.from(unitRows(tokHeads, K), [B, T, H, K]);
      const k = Tensor.from(unitRows(tokHeads, K), [B, T, H, K]);
      const v = Tensor.from(randn(tokHeads * V), [B, T, H, V]);
      const g = Tensor.from(randn(tokHeads * K).map((x) => logsigmoid(x) / 16), [B, T, H, K]);
      const beta = Tensor.from(randn(tokHeads).map(sigmoid), [B, T, H]);
      const dO = Tensor.from(randn(tokHeads * V), [B, T, H, V]);
      return {
        run: () => {
          disposeAll(kda.forward(q, k, v, g, beta));
          if (withBackward) disposeAll(kda.backward(q, k, v, g, beta, dO));
        },
        free: () => [q, k, v, g, beta, dO].forEach((t) => t.dispose()),
      };
    };
    const fwd = tokHeads * kdaFwdFlops(K, V);
    const bwd = tokHeads * kdaBwdFlops(K, V);
    return [
      { op: 'KDA forward', shape, key: `kda_fwd ${shape}`, work: fwd, unit: 'GFLOP/s', prepare: prepare(false) },
      { op: 'KDA fwd+bwd', shape, key: `kda_fwdbwd ${shape}`, work: fwd + bwd, unit: 'GFLOP/s', target: isTarget ? 4 : undefined, prepare: prepare(true) },
    ] as Row[];
  });
}

function adamwRows(): Row[] {
  return ADAMW_SIZES.map((n) => ({
    op: 'AdamW step',
    shape: `${n.toExponential(0).replace('+', '')} params`,
    key: `adamw ${n}`,
    work: 28 * n, // read p, g, m, v; write p, m, v
    unit: 'GB/s',
    target: n === 1e7 ? 0.9 : undefined,
    prepare: (): Prepared => {
      const { Tensor, adamw } = reclin;
      const p = Tensor.from(randn(n), [n]);
      const g = Tensor.from(randn(n), [n]);
      const m = Tensor.zeros([n]);
      const v = Tensor.zeros([n]);
      let step = 0;
      return {
        run: () => adamw.step([p], [g], [m], [v], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step }),
        free: () => [p, g, m, v].forEach((t) => t.dispose()),
      };
    },
  }));
}

function gemmRows(): Row[] {
  return GEMM_SIZES.map((n) => ({
    op: 'GEMM (matmul)',
    shape: `${n}x${n}x${n}`,
    key: `gemm ${n}`,
    work: 2 * n ** 3,
    unit: 'GFLOP/s',
    target: 0.6,
    prepare: (): Prepared => {
      const matmul = api.ops?.matmul;
      if (typeof matmul !== 'function') return NOT_BUILT;
      const a = reclin.Tensor.from(randn(n * n), [n, n]);
      const b = reclin.Tensor.from(randn(n * n), [n, n]);
      return { run: () => matmul(a, b).dispose(), free: () => [a, b].forEach((t) => t.dispose()) };
    },
  }));
}

/** One timed run: a layer's forward on a fresh input Var [B,T,d] and the backward from a fixed dy. */
function layerForwardBackward(layer: { forward(x: Var): Var; zeroGrad(): void; dispose(): void }, B: number, T: number, d: number): Prepared {
  const { Tensor, Var, backward, scope } = reclin;
  const x = Tensor.from(randn(B * T * d), [B, T, d]);
  const dy = Tensor.from(randn(B * T * d), [B, T, d]);
  return {
    run: () => {
      const xv = new Var(x, true);
      scope(() => backward(layer.forward(xv), dy));
      layer.zeroGrad();
      xv.zeroGrad();
    },
    free: () => {
      layer.dispose();
      [x, dy].forEach((t) => t.dispose());
    },
  };
}

function moeRows(): Row[] {
  return MOE_SHAPES.map(([B, T, d, I, E, k, shared]) => {
    const shape = `${B},${T},${d},${I},${E},${k},${shared}`;
    return {
      op: 'MoE layer fwd+bwd',
      shape,
      key: `moe ${shape}`,
      // the router, k routed and `shared` shared SwiGLU experts per token; backward counted as twice the forward
      work: 3 * B * T * (2 * d * E + 6 * d * I * (k + shared)),
      unit: 'GFLOP/s',
      target: 2,
      prepare: (): Prepared => {
        const cfg = { hidden_size: d, moe_intermediate_size: I, num_experts: E, num_experts_per_token: k, num_expert_group: 1, topk_group: 1, moe_renormalize: true, routed_scaling_factor: 2.446, num_shared_experts: shared, initializer_range: 0.02 };
        const layer = new KimiMoE('bench.mlp', cfg, { seed: 0 });
        return layerForwardBackward(layer, B, T, d);
      },
    };
  });
}

function mlaRows(): Row[] {
  return MLA_SHAPES.map(([B, T, d, H, r, nope, rope, v]) => {
    const shape = `${B},${T},${d},${H},${r},${nope},${rope},${v}`;
    const qk = nope + rope;
    // projections q (d -> H·qk), kv_a (d -> r+rope), kv_b (r -> H·(nope+v)), o (H·v -> d), and causal attention
    // (half of the T² scores and of P·V); backward counted as twice the forward
    const proj = 2 * B * T * (d * H * qk + d * (r + rope) + r * H * (nope + v) + H * v * d);
    const attn = B * H * T * T * (qk + v);
    return {
      op: 'MLA layer fwd+bwd',
      shape,
      key: `mla ${shape}`,
      work: 3 * (proj + attn),
      unit: 'GFLOP/s',
      target: 2,
      prepare: (): Prepared => {
        const { parseModelConfig } = reclin;
        const cfg = parseModelConfig({ hidden_size: d, num_attention_heads: H, num_key_value_heads: H, kv_lora_rank: r, qk_nope_head_dim: nope, qk_rope_head_dim: rope, v_head_dim: v, num_hidden_layers: 1, first_k_dense_replace: 1, vocab_size: 8 });
        const layer = new MLAttention('bench', cfg, { seed: 0, std: 0.02 });
        return layerForwardBackward(layer, B, T, d);
      },
    };
  });
}

// ---- the PyTorch server ----------------------------------------------------------------------------------------
class TorchServer {
  private proc: ChildProcessByStdio<Writable, Readable, null>;
  private waiting: ((line: string | undefined) => void)[] = [];
  private dead = false;

  constructor() {
    this.proc = spawn(python, [path.join(root, 'bench', 'torch_cpu.py'), '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.proc.on('exit', () => {
      this.dead = true;
      for (const w of this.waiting.splice(0)) w(undefined);
    });
  }

  async call(req: object): Promise<Record<string, unknown>> {
    if (this.dead) throw new Error('the PyTorch process has exited');
    const reply = new Promise<string | undefined>((resolve) => this.waiting.push(resolve));
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const line = await reply;
    if (line === undefined) throw new Error('the PyTorch process exited (see its message above)');
    const o = JSON.parse(line);
    if (o.error) throw new Error(o.error);
    return o;
  }

  close(): void {
    this.proc.stdin.end();
  }
}

// ---- measuring -------------------------------------------------------------------------------------------------
async function measure(row: Row, torch: TorchServer | undefined): Promise<void> {
  let mine: Prepared;
  try {
    mine = row.prepare();
  } catch (e) {
    mine = `error: ${(e as Error).message.split('\n')[0].slice(0, 50)}`;
  }
  let torchReady = false;
  if (!torch) row.torch = 'n/a (no torch venv)';
  else {
    try {
      row.torchMode = String((await torch.call({ cmd: 'prepare', row: row.key })).mode);
      torchReady = true;
    } catch (e) {
      row.torch = `error: ${(e as Error).message.slice(0, 50)}`;
    }
  }
  const runMine = typeof mine === 'string' ? undefined : mine.run;
  try {
    if (runMine) for (let i = 0; i < 2; i++) runMine(); // warmups (the server warmed up its side in prepare)
  } catch (e) {
    mine = /has no op/.test((e as Error).message) ? NOT_BUILT : `error: ${(e as Error).message.split('\n')[0].slice(0, 50)}`;
  }
  const mineTimes: number[] = [];
  const torchTimes: number[] = [];
  const timeMine = () => {
    const t0 = performance.now();
    runMine!();
    mineTimes.push(performance.now() - t0);
  };
  const timeTorch = async () => torchTimes.push(Number((await torch!.call({ cmd: 'run', row: row.key })).ms));
  const start = performance.now();
  for (let i = 0; typeof mine !== 'string' || torchReady; i++) {
    // Alternate which side goes first, so neither always follows the other's cache footprint.
    if (i % 2 === 0) {
      if (typeof mine !== 'string') timeMine();
      if (torchReady) await timeTorch();
    } else {
      if (torchReady) await timeTorch();
      if (typeof mine !== 'string') timeMine();
    }
    const n = i + 1;
    if (n >= MAX_RUNS || (n >= MIN_RUNS && performance.now() - start > BUDGET_MS)) break;
  }
  if (typeof mine === 'string') row.reclin = mine;
  else {
    row.reclin = mineTimes;
    mine.free();
  }
  if (torchReady) {
    row.torch = torchTimes;
    await torch!.call({ cmd: 'release', row: row.key });
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
  const header = ['operation', 'shape', 'reclin ms', 'PyTorch ms', 'ratio', 'paired', 'reclin rate', 'PyTorch rate', 'target', 'met'];
  const body = rows.map((r) => {
    const mine = Array.isArray(r.reclin) ? r.reclin : undefined;
    const theirs = Array.isArray(r.torch) ? r.torch : undefined;
    const ratio = mine && theirs ? median(theirs) / median(mine) : undefined;
    const paired = mine && theirs ? median(mine.map((m, i) => theirs[i] / m)) : undefined;
    const rate = (t: number[] | undefined) => (t ? `${(r.work / (median(t) * 1e6)).toFixed(1)} ${r.unit}` : '-');
    const target = r.target === undefined ? '-' : `ratio >= ${r.target}`;
    const met = r.target === undefined || ratio === undefined ? '-' : ratio >= r.target ? 'yes' : 'NO';
    return [r.op, r.shape, fmtMs(r.reclin), fmtMs(r.torch), ratio?.toFixed(2) ?? '-', paired?.toFixed(2) ?? '-', rate(mine), rate(theirs), target, met];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  body.forEach((b) => console.log(line(b)));
}

async function main(): Promise<void> {
  reclin.setNumThreads(threads);
  const torch = fs.existsSync(python) ? new TorchServer() : undefined;
  const info = torch ? await torch.call({ cmd: 'info' }) : {};
  const loadBefore = os.loadavg()[0];
  const rows: Row[] = [];
  let kdaCheck: number | undefined;
  try {
    if (torch && groups.includes('kda')) kdaCheck = Number((await torch.call({ cmd: 'check_kda' })).max_rel_err);
    const plan: [string, () => Row[]][] = [
      ['kda', kdaRows],
      ['adamw', adamwRows],
      ['gemm', gemmRows],
      ['moe', moeRows],
      ['mla', mlaRows],
    ];
    for (const [group, make] of plan) {
      if (!groups.includes(group)) continue;
      for (const row of make()) {
        process.stderr.write(`bench: ${row.op} ${row.shape} ...\n`);
        await measure(row, torch);
        rows.push(row);
      }
    }
  } finally {
    torch?.close();
  }

  const cpus = os.cpus();
  const build = reclin.loadAddon().binding.buildInfo();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const load = os.loadavg()[0];
  console.log(`machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${loadBefore.toFixed(1)} at the start, ${load.toFixed(1)} at the end${load > cpus.length ? ' (shared and busy: timings are noisy)' : ''}`);
  console.log(`reclin ${pkg.version} (gcc ${build.compiler}, OpenMP ${build.openmp}, ${reclin.getNumThreads()} threads); node ${process.version}; PyTorch ${info.torch ?? 'n/a'} (${info.threads ?? '?'} threads, ${info.capability ?? '?'}); OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? 'unset'}`);
  if (kdaCheck !== undefined) console.log(`PyTorch side: our chunked KDA (bench/torch_cpu.py) matches its recurrent form in float64 to ${kdaCheck.toExponential(1)} (outputs, final state, all gradients)`);
  console.log(`fp32; medians of >= ${MIN_RUNS} timed runs after warmups, the two sides' runs interleaved; ratio = PyTorch ms / reclin ms (> 1: reclin faster); paired = median of the per-run ratios.`);
  console.log('KDA GFLOP/s use docs/design/kda.md §3.2 (per token and head: fwd 6KV+4CK+4CV+C²/2, bwd 16KV+10CK+10CV+4C², C=64); AdamW GB/s count 28 bytes per parameter.');
  printTable(rows);
  const modes = [...new Set(rows.filter((r) => r.key.startsWith('adamw') && r.torchMode).map((r) => r.torchMode))];
  if (modes.length) console.log(`PyTorch AdamW: torch.optim.AdamW ${modes.join(', ')}; one tensor per step on both sides.`);
  for (const r of rows.filter((x) => x.key.startsWith('moe') && x.torchMode)) console.log(`PyTorch MoE ${r.shape}: transformers KimiLinearMoE, ${r.torchMode}.`);
  const mla = rows.find((x) => x.key.startsWith('mla') && x.torchMode);
  if (mla) console.log(`PyTorch MLA: ${mla.torchMode}; MLA shapes are B,T,hidden,heads,kv_lora_rank,qk_nope,qk_rope,v.`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
