// Parity with transformers' kimi_linear (the reference), through real checkpoints in both directions:
// random-weight KimiLinearForCausalLM models at shrunk configs, saved by save_pretrained and loaded here,
// must give the same logits (RMS(ref-x)/RMS(ref) <= 1e-4, f32) and the same gradients of the next-token loss
// w.r.t. every parameter (<= 1e-3 each, vs torch autograd); models saved here must load in transformers with
// the same logits; bf16 sharded checkpoints (transformers' and ours, published names) load and match.
// One Python process serves every case, since importing transformers dominates the cost.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM, Tensor, backward, loadModel, noGrad, saveModel, scope, setNumThreads } from '../src';
import { requirePython, rmsRel, rng, runPython } from './helpers';

setNumThreads(1);

const B = 2;
const T = 70; // crosses a 64-step KDA chunk and is not a multiple of it

/** Shrunk reference configs (transformers' field names; both layer-kind forms). */
const CASES: Record<string, Record<string, unknown>> = {
  // published form: linear_attn_config sub-dict, 3 KDA : 1 MLA, plain q_proj
  kkkm_qproj: {
    vocab_size: 37, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 2,
    kv_lora_rank: 10, q_lora_rank: null, qk_nope_head_dim: 6, qk_rope_head_dim: 4, v_head_dim: 5,
    first_k_dense_replace: 4, pad_token_id: 0, bos_token_id: 1, eos_token_id: 2,
    linear_attn_config: { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4, kda_layers: [1, 2, 3], full_attn_layers: [4] },
  },
  // transformers' flat form: layer_types + linear_* fields, MLA first, q_lora path, attention biases
  mkmk_qlora: {
    vocab_size: 41, hidden_size: 20, intermediate_size: 36, num_hidden_layers: 4, num_attention_heads: 3, num_key_value_heads: 3,
    kv_lora_rank: 7, q_lora_rank: 9, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 6, attention_bias: true,
    mlp_layer_types: ['dense', 'dense', 'dense', 'dense'], pad_token_id: 0, bos_token_id: 1, eos_token_id: 2,
    layer_types: ['full_attention', 'linear_attention', 'full_attention', 'linear_attention'],
    linear_num_heads: 3, linear_head_dim: 4, linear_conv_kernel_dim: 3,
  },
  // MoE after a dense first layer (published form), sigmoid router with correction bias, renormalised, shared expert
  moe_kkkm: {
    vocab_size: 37, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 2,
    kv_lora_rank: 10, q_lora_rank: null, qk_nope_head_dim: 6, qk_rope_head_dim: 4, v_head_dim: 5, pad_token_id: 0, bos_token_id: 1, eos_token_id: 2,
    first_k_dense_replace: 1, num_experts: 8, num_experts_per_token: 2, moe_intermediate_size: 12, num_shared_experts: 1,
    linear_attn_config: { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4, kda_layers: [1, 2, 3], full_attn_layers: [4] },
  },
  // grouped routing (4 groups, 2 kept), no renormalisation, 2 shared experts, MoE and dense layers interleaved, MLA first, q_lora
  moe_grouped_mkkk: {
    vocab_size: 29, hidden_size: 16, intermediate_size: 28, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 2,
    kv_lora_rank: 8, q_lora_rank: 5, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 6, pad_token_id: 0, bos_token_id: 1, eos_token_id: 2,
    mlp_layer_types: ['sparse', 'dense', 'sparse', 'sparse'], num_experts: 8, num_expert_group: 4, topk_group: 2, num_experts_per_token: 3,
    moe_renormalize: false, routed_scaling_factor: 1.5, moe_intermediate_size: 10, num_shared_experts: 2,
    linear_attn_config: { num_heads: 2, head_dim: 6, short_conv_kernel_size: 4, kda_layers: [2, 3, 4], full_attn_layers: [1] },
  },
};

const PY = String.raw`
import json, os, shutil, sys
import numpy as np
from safetensors.torch import save_file
import torch
from transformers import KimiLinearConfig, KimiLinearForCausalLM
torch.set_num_threads(1)
work = sys.argv[1]
job = json.load(open(os.path.join(work, 'job.json')))

def ids_of(v, seed):
    g = np.random.default_rng(seed)
    return torch.tensor(g.integers(3, v, size=(job['B'], job['T'])), dtype=torch.long)

def randomise(m, seed):
    # every parameter off its initial value (norms away from 1, biases away from 0) so that no term hides
    torch.manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith('A_log') or n.endswith('dt_bias'): continue
            if p.dim() == 1: p.add_(0.2 * torch.randn_like(p))
            else: p.normal_(0.0, 0.3 if 'embed' in n else 0.15)
        for n, b in m.named_buffers():
            if n.endswith('e_score_correction_bias'): b.normal_(0.0, 0.05)

out = {}
for name, cfg in job['forward'].items():
    torch.manual_seed(0)
    m = KimiLinearForCausalLM(KimiLinearConfig(**cfg, attn_implementation='eager', experts_implementation='eager')).float()
    randomise(m, 1)
    d = os.path.join(work, name)
    m.save_pretrained(os.path.join(d, 'ref'))
    # transformers' runtime layout (module names: stacked conv1d, forget_gate.*, fused experts), as a raw state dict
    os.makedirs(os.path.join(d, 'runtime'))
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, os.path.join(d, 'runtime', 'model.safetensors'))
    shutil.copy(os.path.join(d, 'ref', 'config.json'), os.path.join(d, 'runtime', 'config.json'))
    ids = ids_of(cfg['vocab_size'], 2)
    res = m(input_ids=ids, labels=ids)
    res.loss.backward()
    res.logits.detach().numpy().astype('<f4').tofile(os.path.join(d, 'logits.bin'))
    with torch.no_grad():
        for p in m.parameters(): p.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
    m.save_pretrained(os.path.join(d, 'grad'))
    ids.numpy().astype('<i4').tofile(os.path.join(d, 'ids.bin'))
    out[name] = {'loss': res.loss.item()}
    if name in job['bf16']:
        # transformers' own bf16 checkpoint in small shards, and its logits after widening to f32
        m.to(torch.bfloat16).save_pretrained(os.path.join(d, 'bf16'), max_shard_size='20KB')
        w = KimiLinearForCausalLM.from_pretrained(os.path.join(d, 'bf16'), dtype=torch.float32, attn_implementation='eager', experts_implementation='eager')
        with torch.no_grad(): w(input_ids=ids).logits.numpy().astype('<f4').tofile(os.path.join(d, 'bf16_logits.bin'))
for name, r in job['reverse'].items():
    m = KimiLinearForCausalLM.from_pretrained(os.path.join(work, r['dir']), dtype=torch.float32, attn_implementation='eager', experts_implementation='eager')
    ids = torch.from_numpy(np.fromfile(os.path.join(work, r['dir'], 'ids.bin'), dtype='<i4').astype(np.int64)).view(job['B'], -1)
    with torch.no_grad(): m(input_ids=ids).logits.numpy().astype('<f4').tofile(os.path.join(work, r['dir'], 'hf_logits.bin'))
    out[name] = {'loaded': True}
print(json.dumps(out))
`;

let work = '';
let results: Record<string, { loss?: number }> = {};
let skip = '';
const ours: Record<string, Float32Array> = {};

const readF32 = (f: string) => new Float32Array(new Uint8Array(fs.readFileSync(f)).buffer);
const readI32 = (f: string) => new Int32Array(new Uint8Array(fs.readFileSync(f)).buffer);
const logitsOf = (m: KimiLinearLM, ids: Tensor) => noGrad(() => scope(() => m.forward(ids).data.toFloat32Array()));

function randomIds(V: number, seed: number): Tensor {
  const r = rng(seed);
  return Tensor.from(Int32Array.from({ length: B * T }, () => 3 + Math.floor(r() * (V - 3))), [B, T]);
}

/** A reclin-trained model: a few plain SGD steps on random ids, so its weights are not an init. */
function trainedModel(cfg: Record<string, unknown>, seed: number): KimiLinearLM {
  const m = new KimiLinearLM({ ...cfg, initializer_range: 0.2 }, { seed });
  const ids = randomIds(cfg.vocab_size as number, seed + 1);
  for (let step = 0; step < 3; step++)
    scope(() => {
      backward(m.loss(ids));
      for (const p of m.parameters()) {
        if (!p.grad) continue; // the router's correction bias is a frozen buffer
        const g = p.grad.toFloat32Array();
        const x = p.data.toFloat32Array();
        for (let i = 0; i < x.length; i++) x[i] -= 0.5 * g[i];
        p.assign(Tensor.from(x, p.shape));
      }
      m.zeroGrad();
    });
  ids.dispose();
  return m;
}

before(() => {
  const py = requirePython(['torch', 'transformers', 'safetensors', 'numpy']);
  if ('skip' in py) {
    skip = py.skip;
    return;
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-kimi-parity-'));
  // The reverse direction: checkpoints written here (f32 single file; bf16 in shards with published names).
  const reverse: Record<string, { dir: string }> = {};
  for (const [name, cfg] of Object.entries(CASES)) {
    for (const [kind, opts] of [
      ['f32', {}],
      ['bf16', { dtype: 'bfloat16', maxShardBytes: 8192 }],
    ] as const) {
      const dir = path.join(work, `rev_${name}_${kind}`);
      const m = trainedModel(cfg, 5);
      saveModel(m, dir, opts);
      m.dispose();
      const back = loadModel(dir); // what transformers sees, widened as it will widen it
      const ids = randomIds(cfg.vocab_size as number, 9);
      fs.writeFileSync(path.join(dir, 'ids.bin'), new Uint8Array(ids.toInt32Array().buffer));
      ours[`${name}_${kind}`] = logitsOf(back, ids);
      ids.dispose();
      back.dispose();
      reverse[`${name}_${kind}`] = { dir: path.basename(dir) };
    }
  }
  fs.writeFileSync(path.join(work, 'job.json'), JSON.stringify({ B, T, forward: CASES, bf16: ['kkkm_qproj', 'moe_kkkm'], reverse }));
  results = JSON.parse(runPython(py.python, PY, [work]).trim().split('\n').pop()!);
});
after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

for (const name of Object.keys(CASES)) {
  test(`${name}: a transformers checkpoint loads with the same logits and the same gradient for every parameter`, (t) => {
    if (skip) return t.skip(skip);
    const d = path.join(work, name);
    const m = loadModel(path.join(d, 'ref'));
    const ids = Tensor.from(readI32(path.join(d, 'ids.bin')), [B, T]);
    const ref = readF32(path.join(d, 'logits.bin'));
    const err = rmsRel(ref, logitsOf(m, ids));
    assert.ok(err <= 1e-4, `logits rmsRel ${err}`);
    const loss = scope(() => {
      const l = m.loss(ids);
      backward(l);
      return l.data.toFloat32Array()[0];
    });
    assert.ok(Math.abs(loss - results[name].loss!) <= 1e-4 * Math.abs(results[name].loss!), `loss ${loss} vs ${results[name].loss}`);
    const grads = loadModel(path.join(d, 'grad'));
    const refGrads = grads.namedParameters();
    let worst = 0;
    for (const p of m.parameters()) {
      if (!p.requiresGrad) continue;
      const g = refGrads.get(p.name)!.data.toFloat32Array();
      const e = rmsRel(g, p.grad!.toFloat32Array());
      worst = Math.max(worst, e);
      assert.ok(e <= 1e-3, `${p.name}: gradient rmsRel ${e}`);
    }
    if (process.env.RECLIN_GRAD_VERBOSE) console.log(`${name}: logits ${err.toExponential(2)}, worst gradient ${worst.toExponential(2)}`);
    // the same weights in transformers' runtime names load too
    const rt = loadModel(path.join(d, 'runtime'));
    assert.ok(rmsRel(ref, logitsOf(rt, ids)) <= 1e-4, 'runtime layout');
    for (const x of [m, grads, ids, rt]) x.dispose();
  });

  test(`${name}: checkpoints saved here (f32; bf16 in shards) load in transformers with the same logits`, (t) => {
    if (skip) return t.skip(skip);
    for (const kind of ['f32', 'bf16']) {
      const dir = path.join(work, `rev_${name}_${kind}`);
      const err = rmsRel(readF32(path.join(dir, 'hf_logits.bin')), ours[`${name}_${kind}`]);
      assert.ok(err <= 1e-4, `${kind}: logits rmsRel ${err}`);
    }
    // ours in bf16 uses the published names and shards with an index
    const dir = path.join(work, `rev_${name}_bf16`);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    const shards = new Set(Object.values(index.weight_map));
    assert.ok(shards.size > 1, 'several shards');
    const names = Object.keys(index.weight_map);
    assert.ok(names.some((n) => /self_attn\.q_conv1d\.weight$/.test(n)) && names.some((n) => /kv_a_proj_with_mqa/.test(n)));
    if (name.startsWith('moe')) assert.ok(names.some((n) => /block_sparse_moe\.experts\.0\.w1\.weight$/.test(n)), 'per-expert published names');
  });
}

for (const name of ['kkkm_qproj', 'moe_kkkm'])
  test(`${name}: a bf16 checkpoint in shards from transformers' save_pretrained loads and matches its f32 widening`, (t) => {
    if (skip) return t.skip(skip);
    const d = path.join(work, name);
    const m = loadModel(path.join(d, 'bf16'));
    const ids = Tensor.from(readI32(path.join(d, 'ids.bin')), [B, T]);
    const err = rmsRel(readF32(path.join(d, 'bf16_logits.bin')), logitsOf(m, ids));
    assert.ok(err <= 1e-4, `logits rmsRel ${err}`);
    m.dispose();
    ids.dispose();
  });
