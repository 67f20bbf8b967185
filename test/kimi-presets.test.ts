// The shipped model presets are Kimi Linear configs (MLA + KDA at the published 3:1 ratio), and the recursive
// sidecar is exact on them: prefix-state continuation equals one full pass, and after zero-init surgery every
// inner step reproduces the base logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM, Tensor, listPresets, loadModelConfig, noGrad, scope, setNumThreads } from '../src';
import { ChunkRefine } from '../src/recursive';
import { baseChunkLogits } from '../src/train';
import { rmsRel, rng } from './helpers';
import { batchOf, bits, prefixOf, recursiveSettings } from './recursive-fixtures';

setNumThreads(2);

/** The presets the sidecar checks run on (the larger ones cost too much CPU for a unit test). */
const CHECKED = ['tiny', 'kimi-tiny', 'kimi-demo'];

test('every preset is a Kimi Linear config: MLA and KDA layers at 3 KDA : 1 MLA', () => {
  assert.ok(listPresets().length >= 2);
  for (const name of listPresets()) {
    const c = loadModelConfig(name);
    const mla = c.layer_types.filter((t) => t === 'full_attention').length;
    assert.ok(mla >= 1 && c.layer_types.length - mla === 3 * mla, `${name}: ${c.layer_types.join(',')}`);
    assert.ok(c.kv_lora_rank > 0 && c.qk_nope_head_dim + c.qk_rope_head_dim > 0, name);
    // kimi-*: the published MoE plan (a dense first layer, then MoE with one shared expert); others are dense
    const sparse = c.mlp_layer_types.filter((t) => t === 'sparse').length;
    if (name.startsWith('kimi-')) assert.ok(c.mlp_layer_types[0] === 'dense' && sparse === c.num_hidden_layers - 1 && c.num_shared_experts === 1, name);
    else assert.equal(sparse, 0, `${name} is a dense preset`);
  }
});

for (const name of CHECKED) {
  test(`${name}: prefix-state continuation equals one full pass (B=2, prefix 37, chunk 29)`, () => {
    const m = new KimiLinearLM(loadModelConfig(name), { seed: 1 });
    const [B, P, W] = [2, 37, 29];
    const r = rng(3);
    const all = Int32Array.from({ length: B * (P + W) }, () => Math.floor(r() * 250));
    const part = (s: number, e: number) => {
      const out = new Int32Array(B * (e - s));
      for (let b = 0; b < B; b++) out.set(all.subarray(b * (P + W) + s, b * (P + W) + e), b * (e - s));
      return Tensor.from(out, [B, e - s]);
    };
    noGrad(() =>
      scope(() => {
        const full = m.forward(Tensor.from(all, [B, P + W])).data.toFloat32Array();
        const pre = m.forwardWithState(part(0, P), null);
        const cont = m.forwardWithState(part(P, P + W), pre.states).logits.data.toFloat32Array();
        const V = m.config.vocab_size;
        const tail = new Float32Array(B * W * V);
        for (let b = 0; b < B; b++) tail.set(full.subarray((b * (P + W) + P) * V, (b + 1) * (P + W) * V), b * W * V);
        const err = rmsRel(tail, cont);
        assert.ok(err < 1e-5, `rmsRel ${err}`);
      }),
    );
    m.dispose();
  });

  test(`${name}: after zero-init surgery every inner step reproduces the base logits`, () => {
    scope(() => {
      const model = new KimiLinearLM(loadModelConfig(name), { seed: 1 });
      const batch = batchOf(2);
      const base = baseChunkLogits(model, batch).data;
      for (const policy of ['reset_all', 'keep_kda_recurrent_reset_mla'] as const) {
        const side = new ChunkRefine(model, recursiveSettings({ use_latent_token: false, cache_reset_policy: policy }), { seed: 2 });
        const steps = side.refine(prefixOf(batch), batch.chunk, new Uint8Array(batch.chunk.length), 5);
        for (const s of steps) {
          if (policy === 'reset_all') assert.equal(bits(s.logits.data), bits(base), 'one pass over prefix + chunk: bit for bit');
          else assert.ok(rmsRel(base.toFloat32Array(), s.logits.data.toFloat32Array()) < 1e-5, 'prefix snapshot + chunk = one pass');
        }
        side.dispose();
      }
      model.dispose();
    });
  });
}
