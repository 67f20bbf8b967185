// MLA layer forward + backward: reclin's MLAttention against the same layer in PyTorch (bench/mla_torch.py),
// fp32, same shapes, 2 threads each, median of 6 timed runs after 2 warm-ups. Not part of npm test.
//   node --import tsx bench/mla.ts [--threads=2]   (Python: RECLIN_BENCH_PYTHON, else .bench/venv, else .venv)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MLAttention, Tensor, Var, backward, parseModelConfig, scope, setNumThreads } from '../src';

const threads = Number(process.argv.find((a) => a.startsWith('--threads='))?.split('=')[1] ?? 2);
setNumThreads(threads);
const root = path.resolve(__dirname, '..');
const python = [process.env.RECLIN_BENCH_PYTHON, path.join(root, '.bench/venv/bin/python'), path.join(root, '.venv/bin/python')].find((p) => p && fs.existsSync(p))!;

// [B, T, hidden, heads, kv_lora_rank, qk_nope, qk_rope, v]: the tiny preset's layer, and one at the published
// 48B head geometry (nope 128, rope 64, v 128, rank 512) with fewer heads.
const SHAPES: number[][] = [
  [4, 256, 256, 4, 64, 32, 16, 32],
  [1, 1024, 512, 8, 128, 32, 16, 32],
  [1, 512, 1024, 4, 512, 128, 64, 128],
];

function ours([B, T, d, H, r, nope, rope, v]: number[]): number {
  const cfg = parseModelConfig({ hidden_size: d, num_attention_heads: H, num_key_value_heads: H, kv_lora_rank: r, qk_nope_head_dim: nope, qk_rope_head_dim: rope, v_head_dim: v, num_hidden_layers: 1, first_k_dense_replace: 1, vocab_size: 8 });
  const layer = new MLAttention('bench', cfg, { seed: 0, std: 0.02 });
  const x = Tensor.from(Float32Array.from({ length: B * T * d }, () => Math.random() - 0.5), [B, T, d]);
  const dy = Tensor.from(Float32Array.from({ length: B * T * d }, () => Math.random() - 0.5), [B, T, d]);
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    const xv = new Var(x, true);
    scope(() => backward(layer.forward(xv), dy));
    times.push(performance.now() - t0);
    layer.zeroGrad();
    xv.zeroGrad();
  }
  layer.dispose();
  x.dispose();
  dy.dispose();
  const s = times.slice(2).sort((a, b) => a - b);
  return s[s.length >> 1];
}

const r = spawnSync(python, [path.join(__dirname, 'mla_torch.py'), JSON.stringify(SHAPES), String(threads)], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(`torch side failed: ${r.stderr}`);
const torchMs = r.stdout.trim().split('\n').map((l) => JSON.parse(l).ms as number);
console.log(`MLA layer forward+backward, fp32, ${threads} threads (ms, median)`);
console.log('B,T,d,H,rank,nope,rope,v'.padEnd(34) + 'reclin'.padStart(10) + 'torch'.padStart(10) + 'speedup'.padStart(10));
SHAPES.forEach((s, i) => {
  const o = ours(s);
  console.log(s.join(',').padEnd(34) + o.toFixed(1).padStart(10) + torchMs[i].toFixed(1).padStart(10) + `${(torchMs[i] / o).toFixed(2)}x`.padStart(10));
});
