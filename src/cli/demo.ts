// reclin demo (npm start): the honest four-stage study on embedded defaults, small enough for a laptop CPU:
//   1. base: a small Kimi-style model trained from scratch on 2-digit addition;
//   2. after surgery: the sidecar bolted on (zero-init, no latent token), evaluated only: it must equal the base
//      (identical token accuracy, loss within float32 rounding), or the study stops;
//   3. control: the base fine-tuned further without recursion, for as many steps as phase a;
//   4. phase a: the sidecar trained on the frozen base for the same steps;
// then the comparison table. Every stage is an ordinary run directory (reclin show/compare/upload work on it).
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRecursiveConfig, parseRunConfig, readMetrics, writeJsonAtomic, type Phase } from '../experiment';
import { CliError } from './errors';
import { intArg } from './options';
import { redactArgv } from './run-config';
import { startRun } from './runner';

/** The demo architecture: the tiny preset's shape scaled down (hidden 64, 2 layers: one KDA, one MLA; dense MLPs). */
export const DEMO_MODEL = {
  model_type: 'kimi_linear',
  architectures: ['KimiLinearForCausalLM'],
  vocab_size: 264,
  hidden_size: 64,
  intermediate_size: 176,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  kv_lora_rank: 32,
  qk_nope_head_dim: 16,
  qk_rope_head_dim: 16,
  v_head_dim: 32,
  first_k_dense_replace: 2,
  rms_norm_eps: 1e-5,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  initializer_range: 0.02,
  pad_token_id: 256,
  bos_token_id: 257,
  eos_token_id: 258,
  mask_token_id: 259,
  linear_attn_config: { num_heads: 2, head_dim: 32, short_conv_kernel_size: 4, kda_layers: [1], full_attn_layers: [2] },
};

/** The demo's recursive config, shipped as configs/recursive_demo.json (2-digit addition: a 4-token chunk). */
export const DEMO_RECURSIVE_CONFIG = path.join(__dirname, '..', '..', 'configs', 'recursive_demo.json');

function recursiveConfig(enabled: boolean) {
  return { ...loadRecursiveConfig(DEMO_RECURSIVE_CONFIG), recursive_enabled: enabled };
}

/** The run config fields the demo sets (the rest take their defaults). */
interface DemoRunConfig {
  phase: Phase;
  num_steps: number;
  model: { path: string | null; config: string | null };
  [field: string]: unknown;
}

const EVAL_KEYS = ['eval/loss', 'eval/token_accuracy', 'eval/exact_match'] as const;

function lastEval(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of readMetrics(dir)) for (const [k, v] of Object.entries(r.metrics)) if (k.startsWith('eval/')) out[k] = v;
  return out;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('the four-stage study on embedded defaults: base, after-surgery check, vanilla fine-tune control, phase-a recursive fine-tune, then the comparison')
    .option('--experiment-dir <dir>', 'where the four runs go (in a new folder demo_<time>)', './experiments')
    .option('--base-steps <n>', 'training steps of the base model', intArg(1), 300)
    .option('--finetune-steps <n>', 'steps of the control and of phase a', intArg(1), 100)
    .option('--batch-size <n>', 'examples per step', intArg(1), 16)
    .option('--seed <n>', 'seed of everything', intArg(0), 7)
    .option('--eval-examples <n>', 'evaluation set size of every stage', intArg(1), 1000)
    .action(async (o: { experimentDir: string; baseSteps: number; finetuneSteps: number; batchSize: number; seed: number; evalExamples: number }) => {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '_');
      const root = path.resolve(o.experimentDir, `demo_${stamp}`);
      if (fs.existsSync(root)) throw new CliError(`--experiment-dir: ${root} already exists`);
      fs.mkdirSync(root, { recursive: true });
      const modelFile = path.join(root, 'demo_model.json');
      writeJsonAtomic(modelFile, DEMO_MODEL);
      const paths = { off: path.join(root, 'demo_recursive_off.json'), on: path.join(root, 'demo_recursive_on.json') };
      writeJsonAtomic(paths.off, recursiveConfig(false));
      writeJsonAtomic(paths.on, recursiveConfig(true));
      const common = (phase: Phase, steps: number, lr: number, base: string | null): DemoRunConfig => ({
        phase,
        seed: o.seed,
        num_steps: steps,
        batch_size: o.batchSize,
        model: { path: base, config: base ? null : modelFile },
        data: { train: 'synthetic:addition:2', eval_examples: o.evalExamples, seq_len: 16 },
        optimizer: { lr },
        schedule: { warmup_steps: Math.min(20, Math.floor(steps / 5)), decay: 'cosine' },
        intervals: { log: 10, eval: Math.max(1, Math.floor(steps / 2)), save: steps || 1 },
        checkpoint: { keep_last: 1 },
      });
      const say = (t: string) => process.stdout.write(`${t}\n`);
      const stages: { label: string; name: string; rc: DemoRunConfig; on: boolean; dir?: string; seconds?: number }[] = [
        { label: '1/4 base', name: 'base', rc: common('baseline', o.baseSteps, 3e-3, null), on: false },
        { label: '2/4 after surgery', name: 'after_surgery', rc: common('after_surgery', 0, 1e-3, '<base>'), on: true },
        { label: '3/4 control', name: 'control', rc: common('baseline', o.finetuneSteps, 1e-3, '<base>'), on: false },
        { label: '4/4 phase a', name: 'phase_a', rc: common('a', o.finetuneSteps, 1e-3, '<base>'), on: true },
      ];
      say(`reclin demo: four runs in ${root}`);
      for (const s of stages) {
        if (s.rc.model.path === '<base>') s.rc.model.path = stages[0].dir!;
        const t0 = Date.now();
        say(`\n== ${s.label}: ${s.name}`);
        const out = await startRun({
          name: s.name,
          parentDir: root,
          description: `reclin demo, stage ${s.label}`,
          runConfig: parseRunConfig(s.rc, `demo ${s.name}`),
          recursiveConfig: recursiveConfig(s.on),
          recursiveConfigPath: s.on ? paths.on : paths.off,
          runConfigPath: null,
          command: redactArgv(process.argv),
          label: `[${s.label}]`,
          say,
        });
        s.dir = out.dir;
        s.seconds = (Date.now() - t0) / 1000;
        if (out.status !== 'completed') throw new CliError(`demo stage ${s.label} ${out.status}${out.error ? `: ${out.error.message}` : ''} (${out.dir})`);
        if (s.name === 'after_surgery') {
          // The sidecar path computes the chunk from the prefix state, the base from the whole sequence: the
          // same math in another order, so the loss agrees to float32 rounding, and every argmax agrees exactly.
          const base = lastEval(stages[0].dir!);
          const surg = lastEval(s.dir);
          const rel = Math.abs(surg['eval/loss'] - base['eval/loss']) / Math.abs(base['eval/loss']);
          const problems: string[] = [];
          if (!(rel <= 1e-5)) problems.push(`eval/loss base ${base['eval/loss']} vs after surgery ${surg['eval/loss']} (relative difference ${rel.toExponential(2)} > 1e-5)`);
          if (base['eval/token_accuracy'] !== surg['eval/token_accuracy']) problems.push(`eval/token_accuracy base ${base['eval/token_accuracy']} vs after surgery ${surg['eval/token_accuracy']}`);
          if (problems.length) throw new CliError(`after-surgery check FAILED: ${problems.join('; ')}`);
          say(`after-surgery check passed: token accuracy identical, eval/loss equal to the base within ${rel.toExponential(1)} (relative; float32 rounding)`);
        }
      }
      const rows = [['stage', 'steps', ...EVAL_KEYS, 'seconds'], ...stages.map((s) => {
        const e = lastEval(s.dir!);
        return [s.label, String(s.rc.num_steps), ...EVAL_KEYS.map((k) => (e[k] === undefined ? '-' : e[k].toFixed(4))), s.seconds!.toFixed(0)];
      })];
      const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      say('\n== results (final evaluation of each stage, same held-out examples)');
      for (const r of rows) say(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
      const ctl = lastEval(stages[2].dir!);
      const pa = lastEval(stages[3].dir!);
      const d = (pa['eval/exact_match'] ?? NaN) - (ctl['eval/exact_match'] ?? NaN);
      say(
        `\nphase a vs control, same steps from the same base: exact match ${d >= 0 ? '+' : ''}${d.toFixed(4)}. ` +
          'Exact match (generation) is the fair comparison: phase a\'s eval/loss is teacher-forced with the sidecar seeing the clean chunk.',
      );
      say(`\nruns: ${stages.map((s) => path.relative(process.cwd(), s.dir!)).join(', ')}`);
      say(`next: reclin compare ${stages.map((s) => path.relative(process.cwd(), s.dir!)).join(' ')} --html demo.html`);
    });
}
