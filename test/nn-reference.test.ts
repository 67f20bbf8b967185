// The whole model against an independent float64 NumPy implementation written from docs/design/kda.md §1/§2 and
// docs/MODEL.md (recurrent KDA, MLA with explicit causal softmax), reading the model directory we save
// (config.json + model.safetensors through the real safetensors package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM, Tensor, noGrad, parseModelConfig, saveModel, scope, setNumThreads } from '../src';
import { requirePython, rmsRel, rng, runPython } from './helpers';

setNumThreads(1);

const REFERENCE = String.raw`
import json, sys
import numpy as np
from safetensors.numpy import load_file
d = sys.argv[1]
cfg = json.load(open(d + '/config.json'))
W = {k: v.astype(np.float64) for k, v in load_file(d + '/model.safetensors').items()}
ids = np.array(json.loads(sys.argv[2]), dtype=np.int64)
eps = cfg['rms_norm_eps']
la = cfg['linear_attn_config']
H, K = la['num_heads'], la['head_dim']
AH = cfg['num_attention_heads']
NOPE, ROPE, DV, R = cfg['qk_nope_head_dim'], cfg['qk_rope_head_dim'], cfg['v_head_dim'], cfg['kv_lora_rank']

def rms(x, w): return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w
def sigmoid(x): return 1 / (1 + np.exp(-x))
def silu(x): return x * sigmoid(x)
def softplus(x): return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))
def lin(x, name): return x @ W[name].T
def conv(x, w):
    B, T, C = x.shape
    w = w.reshape(C, -1)  # stored [C, 1, W]
    n = w.shape[1]
    xp = np.concatenate([np.zeros((B, n - 1, C)), x], 1)
    return sum(w[:, j] * xp[:, j:j + T] for j in range(n))

def kda(x, p):
    B, T, _ = x.shape
    q, k, v = [silu(conv(lin(x, p + n + '_proj.weight'), W[p + n + '_conv1d.weight'])).reshape(B, T, H, K) for n in 'qkv']
    q = q / np.sqrt((q * q).sum(-1, keepdims=True) + 1e-6)
    k = k / np.sqrt((k * k).sum(-1, keepdims=True) + 1e-6)
    f = lin(lin(x, p + 'f_a_proj.weight'), p + 'f_b_proj.weight')
    g = -np.exp(W[p + 'A_log']).reshape(H, 1) * softplus(f + W[p + 'dt_bias']).reshape(B, T, H, K)
    beta = sigmoid(lin(x, p + 'b_proj.weight'))
    o = np.zeros((B, T, H, K))
    for b in range(B):
        for h in range(H):
            S = np.zeros((K, K))
            for t in range(T):
                S = np.exp(g[b, t, h])[:, None] * S
                e = v[b, t, h] - S.T @ k[b, t, h]
                S = S + beta[b, t, h] * np.outer(k[b, t, h], e)
                o[b, t, h] = K ** -0.5 * (S.T @ q[b, t, h])
    G = lin(lin(x, p + 'g_a_proj.weight'), p + 'g_b_proj.weight').reshape(B, T, H, K)
    y = rms(o, W[p + 'o_norm.weight']) * sigmoid(G)
    return lin(y.reshape(B, T, H * K), p + 'o_proj.weight')

def rms6(x, w): return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * w

def attention(x, p):
    # MLA, NoPE: the rope slice of the keys is shared by the heads and not rotated
    B, T, _ = x.shape
    if p + 'q_proj.weight' in W: q = lin(x, p + 'q_proj.weight')
    else: q = lin(rms6(lin(x, p + 'q_a_proj.weight'), W[p + 'q_a_layernorm.weight']), p + 'q_b_proj.weight')
    q = q.reshape(B, T, AH, NOPE + ROPE)
    ckv = lin(x, p + 'kv_a_proj_with_mqa.weight')
    kv = lin(rms6(ckv[..., :R], W[p + 'kv_a_layernorm.weight']), p + 'kv_b_proj.weight').reshape(B, T, AH, NOPE + DV)
    k = np.concatenate([kv[..., :NOPE], np.broadcast_to(ckv[:, :, None, R:], (B, T, AH, ROPE))], -1)
    v = kv[..., NOPE:]
    s = np.einsum('bthd,bshd->bhts', q, k) / np.sqrt(NOPE + ROPE)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a = a / a.sum(-1, keepdims=True)
    o = np.einsum('bhts,bshd->bthd', a, v)
    return lin(o.reshape(B, T, AH * DV), p + 'o_proj.weight')

h = W['model.embed_tokens.weight'][ids]
for i in range(cfg['num_hidden_layers']):
    p = 'model.layers.%d.' % i
    x = rms(h, W[p + 'input_layernorm.weight'])
    h = h + (kda(x, p + 'self_attn.') if (i + 1) in la['kda_layers'] else attention(x, p + 'self_attn.'))
    x = rms(h, W[p + 'post_attention_layernorm.weight'])
    h = h + lin(silu(lin(x, p + 'mlp.gate_proj.weight')) * lin(x, p + 'mlp.up_proj.weight'), p + 'mlp.down_proj.weight')
head = W['lm_head.weight'] if 'lm_head.weight' in W else W['model.embed_tokens.weight']
logits = rms(h, W['model.norm.weight']) @ head.T
sys.stdout.write(json.dumps(logits.reshape(-1).tolist()))
`;

for (const q_lora_rank of [null, 6])
test(`logits equal a float64 NumPy reference of the architecture (T crosses a KDA chunk, q_lora_rank ${q_lora_rank})`, (t) => {
  const py = requirePython(['numpy', 'safetensors']);
  if ('skip' in py) return t.skip(py.skip);
  const config = parseModelConfig({
    vocab_size: 13,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    initializer_range: 0.3,
    num_attention_heads: 4,
    kv_lora_rank: 5,
    q_lora_rank,
    qk_nope_head_dim: 3,
    qk_rope_head_dim: 2,
    v_head_dim: 4,
    first_k_dense_replace: 3,
    linear_attn_config: { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4, kda_layers: [1, 3], full_attn_layers: [2] },
  });
  const model = new KimiLinearLM(config, { seed: 21 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-ref-'));
  saveModel(model, dir);
  const [B, T] = [2, 70];
  const r = rng(8);
  const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * 13)));
  const ours = noGrad(() => scope(() => model.forward(Tensor.from(Int32Array.from(ids.flat()), [B, T])).data.toFloat32Array()));
  const ref = JSON.parse(runPython(py.python, REFERENCE, [dir, JSON.stringify(ids)])) as number[];
  assert.equal(ref.length, ours.length);
  const err = rmsRel(ref, ours);
  if (process.env.RECLIN_GRAD_VERBOSE) console.log(`numpy reference rmsRel ${err.toExponential(2)}`);
  assert.ok(err < 1e-5, `rmsRel ${err}`);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
