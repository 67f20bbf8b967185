// countParameters (the memory estimate's source) against the built models' own parameter count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM, countParameters, loadModelConfig, parseModelConfig } from '../src/nn';
import { scope } from '../src';
import { CFG } from './recursive-fixtures';

const built = (cfg: ReturnType<typeof parseModelConfig>) =>
  scope(() => {
    const m = new KimiLinearLM(cfg, { seed: 0 });
    const n = m.parameters().reduce((s, p) => s + p.data.size, 0);
    m.dispose();
    return n;
  });

test('countParameters equals the built model: presets (dense, MLA + MoE), q_lora, tied, attention bias', () => {
  const cases: [string, ReturnType<typeof parseModelConfig>][] = [
    ...['tiny', 'kimi-tiny', 'kimi-small'].map((p) => [p, loadModelConfig(p)] as [string, ReturnType<typeof parseModelConfig>]),
    ['mixed, q_lora 12, tied, bias', parseModelConfig({ ...CFG, q_lora_rank: 12, tie_word_embeddings: true, attention_bias: true }, 'test')],
    ['MoE without shared experts', parseModelConfig({ ...CFG, first_k_dense_replace: 1, num_experts: 5, num_experts_per_token: 2, num_shared_experts: 0, moe_intermediate_size: 24 }, 'test')],
  ];
  for (const [name, cfg] of cases) {
    const c = countParameters(cfg);
    assert.equal(c.total, built(cfg), name);
    assert.equal(c.total, c.embeddings + c.attention + c.dense_mlp + c.moe, `${name}: parts add up`);
  }
  const kt = countParameters(loadModelConfig('kimi-tiny'));
  assert.ok(kt.moe > 0 && kt.routed_experts > 0 && kt.routed_experts < kt.moe, 'kimi-tiny has MoE layers');
});
