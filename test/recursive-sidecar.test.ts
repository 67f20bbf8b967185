import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM } from '../src/nn';
import { ChunkRefine, generate, recursiveLossVar, DEFAULT_LOSS_WEIGHTS } from '../src/recursive';
import { Trainer, baseChunkLogits } from '../src/train';
import { TaskSource, corruptChunk, Rng, SPECIAL_TOKENS } from '../src/data';
import { Tensor, backward, memory, scope } from '../src';
import { rmsRel } from './helpers';
import { CFG, recursiveSettings, trainerConfig, task, batchOf, prefixOf, bits, snapshot } from './recursive-fixtures';

test('after surgery (zero-init W_out, zero latent gate) every inner step reproduces the base logits bit for bit', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const batch = batchOf(3);
    const base = bits(baseChunkLogits(model, batch).data);
    for (const latent of [false, true]) {
      for (const policy of ['reset_all', 'keep_kda_recurrent_reset_mla', 'keep_all'] as const) {
        const side = new ChunkRefine(model, recursiveSettings({ use_latent_token: latent, cache_reset_policy: policy }), { seed: 2 });
        const steps = side.refine(prefixOf(batch), batch.chunk, new Uint8Array(batch.chunk.length), 5);
        assert.equal(steps.length, 3);
        for (const s of steps) {
          if (policy === 'reset_all') assert.equal(bits(s.logits.data), base, `latent ${latent}: one pass over prefix + chunk: bit for bit`);
          else if (policy === 'keep_kda_recurrent_reset_mla') assert.ok(rmsRel(baseChunkLogits(model, batch).data.toFloat32Array(), s.logits.data.toFloat32Array()) < 1e-5, 'prefix snapshot + chunk = one pass');
        }
        if (policy === 'keep_kda_recurrent_reset_mla') {
          // evaluation's order of computation (full: true): bit for bit under the default policy too
          const full = side.refine(prefixOf(batch), batch.chunk, new Uint8Array(batch.chunk.length), 5, null, { full: true });
          for (const s of full) assert.equal(bits(s.logits.data), base, `latent ${latent}: full recomputation is bit for bit`);
        } else if (policy === 'keep_all') {
          assert.throws(() => side.refine(prefixOf(batch), batch.chunk, null, 5, null, { full: true }), /keep_all/);
        }
        side.dispose();
      }
    }
    model.dispose();
  });
});

test('phase a: frozen base gets no gradient buffers, every sidecar parameter gets a non-zero gradient once W_out moved', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const tr = new Trainer({ model, recursive: recursiveSettings(), config: trainerConfig(), train: new TaskSource(task, 5) });
    const side = tr.sidecar!;
    tr.trainStep(); // moves W_out off zero (its gradient is non-zero at init)
    const batch = batchOf(4, 9);
    const { draft, corrupted } = corruptChunk(batch, 0.5, Rng.seeded(1));
    const steps = side.refine(prefixOf(batch), draft, corrupted, 5);
    side.zeroGrad();
    const { loss } = recursiveLossVar(steps, batch, corrupted, 5, DEFAULT_LOSS_WEIGHTS);
    backward(loss);
    for (const p of side.parameters()) {
      assert.ok(p.grad, `${p.name} has a gradient`);
      const g = p.grad!.toFloat32Array();
      assert.ok(g.some((x) => x !== 0), `${p.name}: gradient is all zero`);
      assert.ok(g.every(Number.isFinite), `${p.name}: finite`);
    }
    for (const p of model.parameters()) assert.equal(p.grad, null, `${p.name} is frozen: no gradient buffer`);
    assert.deepEqual([...tr.checkpoint().optimizer.keys()].map((k) => k.replace(/\.exp_avg(_sq)?$/, '')).filter((v, i, a) => a.indexOf(v) === i).sort(), side.parameters().map((p) => p.name).sort(), 'optimizer state only for trainable parameters');
    tr.dispose();
    model.dispose();
  });
});

test('phase a trains: base weights bitwise unchanged, training loss goes down on the sorting task', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const before = snapshot(model);
    const tr = new Trainer({ model, recursive: recursiveSettings({ corruption_schedule: 'none' }), config: trainerConfig({ num_steps: 20, optimizer: { ...trainerConfig().optimizer, lr: 1e-2 } }), train: new TaskSource(task, 5) });
    const m: Record<string, number>[] = [];
    for (let i = 0; i < 20; i++) m.push(tr.trainStep());
    const avg = (k: string, from: number, to: number) => m.slice(from, to).reduce((a, x) => a + x[k], 0) / (to - from);
    // A random frozen base leaves the sidecar little to work with, but the objective must still fall.
    assert.ok(avg('train/loss', 17, 20) < avg('train/loss', 0, 3) - 0.3, `total ${avg('train/loss', 0, 3)} -> ${avg('train/loss', 17, 20)}`);
    assert.ok(avg('train/loss/final_ce', 17, 20) < m[0]['train/loss/final_ce'] - 0.1, `final_ce ${m[0]['train/loss/final_ce']} -> ${avg('train/loss/final_ce', 17, 20)}`);
    assert.deepEqual(snapshot(model), before, 'base weights unchanged');
    tr.dispose();
    model.dispose();
  });
});

test('phase b (LoRA) and c (every k-th block unfrozen + L2) touch exactly their parameters', () => {
  scope(() => {
    for (const phase of ['b', 'c'] as const) {
      const model = new KimiLinearLM(CFG, { seed: 1 });
      const before = snapshot(model);
      const tr = new Trainer({ model, recursive: recursiveSettings(), config: trainerConfig({ phase }), train: new TaskSource(task, 5) });
      const names = new Set(tr.trainableNames());
      const sideNames = tr.sidecar!.parameters().map((p) => p.name);
      const loraNames = tr.setup.lora!.parameters().map((p) => p.name);
      // top_fraction 0.5 of 2 layers -> layer 1's attention and MLP projections
      assert.deepEqual(tr.setup.lora!.targetNames().sort(), ['model.layers.1.mlp.down_proj', 'model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj', 'model.layers.1.self_attn.kv_a_proj_with_mqa', 'model.layers.1.self_attn.kv_b_proj', 'model.layers.1.self_attn.o_proj', 'model.layers.1.self_attn.q_proj'].sort());
      const unfrozen = phase === 'c' ? model.layers[1].parameters().map((p) => p.name) : []; // every 2nd block: layer 1
      assert.deepEqual([...names].sort(), [...sideNames, ...loraNames, ...unfrozen].sort());
      let m: Record<string, number> = {};
      let l2Expected = 0;
      for (let i = 0; i < 3; i++) {
        if (phase === 'c' && i === 2) {
          // The penalty is taken before this step's update: weight * sum (w - w0)^2 over the unfrozen tensors, in float64.
          const l2 = tr.setup.l2!;
          l2.params.forEach((p, j) => {
            const w = p.data.toFloat32Array();
            const w0 = l2.pretrained[j].toFloat32Array();
            for (let k = 0; k < w.length; k++) l2Expected += (w[k] - w0[k]) ** 2;
          });
          l2Expected *= l2.weight;
        }
        m = tr.trainStep();
      }
      const after = snapshot(model);
      for (const [n, h] of before) assert.equal(after.get(n) === h, !unfrozen.includes(n), `${phase}: ${n} ${unfrozen.includes(n) ? 'must change' : 'must stay'}`);
      assert.ok(tr.setup.lora!.parameters().some((p) => p.name.endsWith('lora_B.weight') && p.data.toFloat32Array().some((x) => x !== 0)), 'LoRA B trained');
      if (phase === 'c') {
        assert.ok(l2Expected > 0);
        assert.ok(Math.abs(m['train/l2_pretrained'] - l2Expected) <= 1e-4 * l2Expected, `l2_pretrained ${m['train/l2_pretrained']} vs ${l2Expected}`);
      }
      for (const p of model.parameters()) if (!unfrozen.includes(p.name)) assert.equal(p.grad, null, `${p.name} frozen: no gradient buffer`);
      tr.dispose();
      assert.deepEqual(model.parameters().map((p) => p.name).sort(), [...before.keys()].sort());
      model.dispose();
    }
  });
});

test('chunked generation with the sidecar reports refine steps, commits and lengths; memory does not grow over steps', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const tr = new Trainer({ model, recursive: recursiveSettings({ max_inner_steps: 2 }), config: trainerConfig(), train: new TaskSource(task, 5), eval: new TaskSource(task, 99, 4), evalGenerate: 2 });
    const r = generate(model, tr.sidecar, new TaskSource(task, 1).get(0).ids.slice(0, 11), { maxNewTokens: 7, eosId: SPECIAL_TOKENS.eos });
    assert.ok(r.stats.chunks >= 1);
    assert.ok(r.stats.refineSteps >= r.stats.chunks && r.stats.refineSteps <= 2 * r.stats.chunks);
    assert.equal(r.stats.committedTokens, r.ids.length);
    const e = tr.evaluate().metrics;
    for (const k of ['eval/loss', 'eval/perplexity', 'eval/token_accuracy', 'eval/exact_match', 'eval/denoise_final_ce', 'eval/gen_avg_refine_steps', 'eval/gen_commit_rate', 'eval/gen_avg_chunk_len']) assert.ok(Number.isFinite(e[k]), `${k} = ${e[k]}`);
    tr.trainStep();
    const live = memory().liveStorages;
    const bytes = memory().hostBytes;
    for (let i = 0; i < 3; i++) tr.trainStep();
    assert.equal(memory().liveStorages, live, 'no storage leaks per step');
    assert.equal(memory().hostBytes, bytes, 'no bytes leak per step');
    tr.dispose();
    model.dispose();
  });
});

test('keep_all threads the cache through the inner steps', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const batch = batchOf(2);
    for (const latent of [false, true]) {
      const side = new ChunkRefine(model, recursiveSettings({ cache_reset_policy: 'keep_all', use_latent_token: latent }), { seed: 2 });
      const steps = side.refine(prefixOf(batch), batch.chunk, new Uint8Array(batch.chunk.length), 5);
      // step 1 sees prefix + chunk; step 2 also the first copy, so its logits differ
      assert.ok(rmsRel(steps[0].logits.data.toFloat32Array(), steps[1].logits.data.toFloat32Array()) > 1e-4);
      assert.ok(rmsRel(baseChunkLogits(model, batch).data.toFloat32Array(), steps[0].logits.data.toFloat32Array()) < 1e-5);
      side.dispose();
    }
    model.dispose();
  });
});

test('use_soft_tokens: corrupted positions of later steps get Gumbel-softmax embeddings; training stays finite', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const batch = batchOf(2);
    const { draft, corrupted } = corruptChunk(batch, 0.5, Rng.seeded(1));
    const hard = new ChunkRefine(model, recursiveSettings({ use_soft_tokens: false }), { seed: 2 });
    const soft = new ChunkRefine(model, recursiveSettings({ use_soft_tokens: true }), { seed: 2 });
    const h = hard.refine(prefixOf(batch), draft, corrupted, 5, Rng.seeded(4));
    const s = soft.refine(prefixOf(batch), draft, corrupted, 5, Rng.seeded(4));
    assert.equal(bits(s[0].logits.data), bits(h[0].logits.data), 'step 1 sees the same draft');
    assert.notEqual(bits(s[1].logits.data), bits(h[1].logits.data), 'step 2 sees soft embeddings');
    hard.dispose();
    soft.dispose();
    const tr = new Trainer({ model, recursive: recursiveSettings({ use_soft_tokens: true }), config: trainerConfig(), train: new TaskSource(task, 5) });
    for (let i = 0; i < 2; i++) assert.ok(Number.isFinite(tr.trainStep()['train/loss']));
    tr.dispose();
    model.dispose();
  });
});

test('sidecar gradients through the whole model match central finite differences', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const tr = new Trainer({ model, recursive: recursiveSettings(), config: trainerConfig({ optimizer: { ...trainerConfig().optimizer, lr: 3e-2 } }), train: new TaskSource(task, 5) });
    for (let i = 0; i < 3; i++) tr.trainStep(); // move W_out away from zero so every path carries gradient
    const side = tr.sidecar!;
    const batch = batchOf(2, 7);
    // A corrupted draft, but no position marked for replacement: the next step's draft would take argmax tokens,
    // a step function of the weights that finite differences cannot see through (a flipped token jumps the loss).
    const { draft } = corruptChunk(batch, 0.5, Rng.seeded(3));
    const corrupted = new Uint8Array(draft.length);
    // The halt term's targets compare argmax counts between steps: a step function of the weights, so a
    // perturbation can flip a target and jump the loss (its gradient is checked in recursive-losses.test.ts).
    const weights = { ...DEFAULT_LOSS_WEIGHTS, halt: 0 };
    const lossAt = () =>
      scope(() => {
        const steps = side.refine(prefixOf(batch), draft, corrupted, 5);
        return recursiveLossVar(steps, batch, corrupted, 5, weights).result.total;
      });
    side.zeroGrad();
    scope(() => backward(recursiveLossVar(side.refine(prefixOf(batch), draft, corrupted, 5), batch, corrupted, 5, weights).loss));
    const h = 1e-2;
    const pick = Rng.seeded(11);
    let checked = 0;
    for (const p of side.parameters()) {
      const g = p.grad!.toFloat32Array();
      let big = 0;
      for (let j = 1; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[big])) big = j;
      const gmax = Math.abs(g[big]);
      // the largest entry and three random coordinates of every tensor
      const coords = [big, ...Array.from({ length: Math.min(3, g.length - 1) }, () => pick.int(g.length))];
      const w = p.data.toFloat32Array();
      for (const i of coords) {
        const x = w[i];
        const at = (v: number) => {
          w[i] = v;
          p.assign(Tensor.from(w, p.shape));
          return lossAt();
        };
        const fd = (at(x + h) - at(x - h)) / (2 * h);
        at(x);
        // f32 forward: the central difference carries ~1e-5 of rounding noise; 2 % of the entry plus 0.2 % of the
        // tensor's largest gradient covers that on small entries without hiding a wrong path on large ones.
        assert.ok(Math.abs(fd - g[i]) <= 0.02 * Math.abs(g[i]) + 2e-3 * gmax + 2e-5, `${p.name}[${i}]: analytic ${g[i]} vs finite difference ${fd} (largest |grad| ${gmax})`);
        checked++;
      }
    }
    assert.ok(checked >= 4 * 3, `checked ${checked} coordinates`);
    tr.dispose();
    model.dispose();
  });
});
