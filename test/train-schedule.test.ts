import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrFactor, buildParamGroups } from '../src/optim';

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);

test('lr schedule: warmup then linear / cosine decay to the floor', () => {
  const s = { warmupSteps: 10, totalSteps: 110, decay: 'linear' as const };
  near(lrFactor(1, s), 0.1);
  near(lrFactor(10, s), 1);
  near(lrFactor(60, s), 0.5);
  near(lrFactor(110, s), 0);
  near(lrFactor(500, s), 0);
  const c = { ...s, decay: 'cosine' as const, minLrRatio: 0.1 };
  near(lrFactor(60, c), 0.55);
  near(lrFactor(35, c), 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)));
  near(lrFactor(110, c), 0.1);
  near(lrFactor(5, { warmupSteps: 0, totalSteps: 10, decay: 'constant' }), 1);
  near(lrFactor(1, { warmupSteps: 0, totalSteps: 1, decay: 'linear' }), 0);
  assert.throws(() => lrFactor(0, s), /step: expected an integer >= 1/);
  assert.throws(() => lrFactor(1, { ...s, decay: 'exp' as never }), /lr decay/);
});

test('param groups: boundary lr x 1.67, decay 0.05, no decay on norms, biases, A_log, dt_bias, latent', () => {
  const names: [string, 'base' | 'refine' | 'boundary' | 'latent' | 'lora'][] = [
    ['refine.0.w_in.weight', 'refine'],
    ['refine.0.gru.bias_ih', 'refine'],
    ['boundary.trunk.0.weight', 'boundary'],
    ['boundary.commit.bias', 'boundary'],
    ['latent.vector', 'latent'],
    ['model.layers.0.self_attn.A_log', 'base'],
    ['model.layers.0.self_attn.dt_bias', 'base'],
    ['model.layers.0.input_layernorm.weight', 'base'],
    ['model.layers.0.self_attn.o_norm.weight', 'base'],
    ['model.norm.weight', 'base'],
    ['model.layers.0.mlp.up_proj.weight', 'base'],
    ['model.layers.0.mlp.up_proj.lora_A', 'lora'],
  ];
  const groups = buildParamGroups(names.map(([name, role], i) => ({ name, role, param: i })), { lr: 3e-4, baseLr: 1e-4 });
  const byName = Object.fromEntries(groups.map((g) => [g.name, g]));
  assert.deepEqual(byName.refine.names, ['refine.0.w_in.weight']);
  assert.equal(byName.refine.weightDecay, 0.05);
  assert.deepEqual(byName.refine_no_decay.names, ['refine.0.gru.bias_ih']);
  near(byName.boundary.lr, 3e-4 * 1.67);
  assert.deepEqual(byName.boundary_no_decay.names, ['boundary.commit.bias']);
  assert.equal(byName.latent_no_decay.lr, 3e-4);
  assert.deepEqual(byName.base_no_decay.names, names.slice(5, 10).map((n) => n[0]));
  assert.equal(byName.base_no_decay.weightDecay, 0);
  assert.deepEqual(byName.base.names, ['model.layers.0.mlp.up_proj.weight']);
  assert.equal(byName.base.lr, 1e-4);
  assert.equal(byName.lora.lr, 1e-5);
  assert.equal(groups.reduce((n, g) => n + g.params.length, 0), names.length);
  assert.throws(() => buildParamGroups([{ name: 'a', role: 'refine', param: 0 }, { name: 'a', role: 'refine', param: 1 }], { lr: 1 }), /listed twice/);
});
