// The halting head learns to commit: on a task the base model learns only partly (sorting 4 letters), the
// halt targets of phase a are positive for a real fraction of (step, row) pairs and generation commits on
// the threshold. Under the first target definition ("every token of the chunk correct") both were 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM } from '../src/nn';
import { TaskSource } from '../src/data';
import { Trainer } from '../src/train';
import { scope } from '../src';
import { CFG, recursiveSettings, trainerConfig, task } from './recursive-fixtures';

test('phase a: halt targets are positive for a real fraction and the commit rate rises above zero', () => {
  scope(() => {
    const model = new KimiLinearLM(CFG, { seed: 1 });
    const base = new Trainer({
      model,
      recursive: recursiveSettings({ recursive_enabled: false }),
      config: trainerConfig({ phase: 'baseline', num_steps: 20, batch_size: 16, schedule: { warmup_steps: 2, decay: 'cosine', min_lr_ratio: 0.1 }, optimizer: { ...trainerConfig().optimizer, lr: 1e-2 } }),
      train: new TaskSource(task, 5),
    });
    while (base.step < 20) base.trainStep();
    base.dispose();
    const a = new Trainer({
      model,
      recursive: recursiveSettings(),
      config: trainerConfig({ num_steps: 30, batch_size: 8, schedule: { warmup_steps: 4, decay: 'cosine', min_lr_ratio: 0.1 } }),
      train: new TaskSource(task, 6),
      eval: new TaskSource(task, 99, 32),
    });
    const rates: number[] = [];
    const accuracy: number[] = [];
    while (a.step < 30) {
      const m = a.trainStep();
      rates.push(m['train/halt_target_rate']);
      accuracy.push(m['train/token_accuracy']);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    // the base is partly trained: neither hopeless nor perfect
    assert.ok(mean(accuracy) > 0.3 && mean(accuracy) < 0.95, `token accuracy ${mean(accuracy)}`);
    assert.ok(mean(rates) > 0.2, `halt target rate ${mean(rates)}`);
    const e = a.evaluate().metrics;
    assert.ok(e['eval/gen_commit_rate'] > 0, `commit rate ${e['eval/gen_commit_rate']}`);
    assert.ok(e['eval/gen_avg_refine_steps'] < recursiveSettings().max_inner_steps);
    a.dispose();
    model.dispose();
  });
});
