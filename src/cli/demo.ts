// reclin demo (npm start): the honest study on embedded defaults, small enough for a laptop CPU, repeated over
// several seeds so that it ends with a verdict instead of a single difference. For each seed, paired:
//   1. base: a small Kimi Linear model (the kimi-demo preset: 3 KDA : 1 MLA, MoE) trained from scratch on 2-digit addition (the sum is written most
//      significant digit first, so its first digit depends on a carry from the last: a task where refining the
//      whole answer chunk can plausibly help);
//   2. after surgery: the sidecar bolted on (zero-init, no latent token), evaluated only: it must equal the base
//      (identical token accuracy, loss within float32 rounding), or the study stops;
//   3. control: the base fine-tuned further without recursion, for as many steps as phase a;
//   4. phase a: the sidecar trained on the frozen base for the same steps;
// then per-seed results, the mean of each arm with its interval, and the paired verdict on exact match.
// Every stage is an ordinary run directory (reclin show/compare/upload work on it).
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRecursiveConfig, parseRunConfig, readMetrics, type Phase } from '../experiment';
import { writeJsonAtomic } from '../format';
import { CliError } from './errors';
import { intArg } from './options';
import { parseSeeds } from './sweep-grid';
import { formatP, pClause, pairedDifference, summarize, verdictSentence } from '../stats';
import { redactArgv } from './run-config';
import { startRun } from './runner';

/**
 * The demo architecture: the kimi-demo preset (configs/models/kimi-demo.json), Kimi Linear's published plan at toy
 * size: hidden 64, three KDA layers then an MLA layer, a dense MLP in the first and MoE (8 experts, top 2, one
 * shared) in the others (docs/MODEL.md).
 */
export const DEMO_PRESET = 'kimi-demo';

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

/** Defaults: 3 seeds x (base 300 steps + control and phase a 100 steps each), 1.5 to 4 minutes on 2 cores (80 s idle). */
export const DEMO_DEFAULTS = { seeds: '0-2', baseSteps: 300, finetuneSteps: 100, batchSize: 16, evalExamples: 64 } as const;

interface Stage {
  label: string;
  name: string;
  rc: DemoRunConfig;
  on: boolean;
  dir?: string;
  seconds?: number;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('the paired study on embedded defaults, over several seeds: per seed a base, the after-surgery check, a vanilla fine-tune control and a phase-a recursive fine-tune; ends with the verdict')
    .option('--experiment-dir <dir>', 'where the runs go (in a new folder demo_<time>, one subfolder per seed)', './experiments')
    .option('--seeds <spec>', 'seeds, each training its own base, control and phase a ("0-2", "0,3,7")', DEMO_DEFAULTS.seeds)
    .option('--base-steps <n>', 'training steps of each base model', intArg(1), DEMO_DEFAULTS.baseSteps)
    .option('--finetune-steps <n>', 'steps of the control and of phase a', intArg(1), DEMO_DEFAULTS.finetuneSteps)
    .option('--batch-size <n>', 'examples per step', intArg(1), DEMO_DEFAULTS.batchSize)
    .option('--eval-examples <n>', 'held-out examples in each evaluation (the same set for every stage and seed)', intArg(1), DEMO_DEFAULTS.evalExamples)
    .action(async (o: { experimentDir: string; seeds: string; baseSteps: number; finetuneSteps: number; batchSize: number; evalExamples: number }) => {
      const seeds = parseSeeds(o.seeds);
      const t0 = Date.now();
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '_');
      const root = path.resolve(o.experimentDir, `demo_${stamp}`);
      if (fs.existsSync(root)) throw new CliError(`--experiment-dir: ${root} already exists`);
      fs.mkdirSync(root, { recursive: true });
      const paths = { off: path.join(root, 'demo_recursive_off.json'), on: path.join(root, 'demo_recursive_on.json') };
      writeJsonAtomic(paths.off, recursiveConfig(false));
      writeJsonAtomic(paths.on, recursiveConfig(true));
      const common = (seed: number, phase: Phase, steps: number, lr: number, base: string | null): DemoRunConfig => ({
        phase,
        seed,
        num_steps: steps,
        batch_size: o.batchSize,
        model: { path: base, config: base ? null : DEMO_PRESET },
        data: { train: 'synthetic:addition:2', eval_examples: o.evalExamples, seq_len: 16 },
        optimizer: { lr },
        schedule: { warmup_steps: Math.min(20, Math.floor(steps / 5)), decay: 'cosine' },
        intervals: { log: 10, eval: Math.max(1, Math.floor(steps / 2)), save: steps || 1 },
        checkpoint: { keep_last: 1 },
      });
      const say = (t: string) => process.stdout.write(`${t}\n`);
      say(`reclin demo: ${seeds.length} seed(s) x 4 runs in ${root}`);
      const perSeed: { seed: number; stages: Stage[] }[] = [];
      for (const [i, seed] of seeds.entries()) {
        const parentDir = path.join(root, `seed_${seed}`);
        const stages: Stage[] = [
          { label: '1/4 base', name: 'base', rc: common(seed, 'baseline', o.baseSteps, 3e-3, null), on: false },
          { label: '2/4 after surgery', name: 'after_surgery', rc: common(seed, 'after_surgery', 0, 1e-3, '<base>'), on: true },
          { label: '3/4 control', name: 'control', rc: common(seed, 'baseline', o.finetuneSteps, 1e-3, '<base>'), on: false },
          { label: '4/4 phase a', name: 'phase_a', rc: common(seed, 'a', o.finetuneSteps, 1e-3, '<base>'), on: true },
        ];
        for (const s of stages) {
          if (s.rc.model.path === '<base>') s.rc.model.path = stages[0].dir!;
          const t = Date.now();
          const label = `seed ${seed} (${i + 1}/${seeds.length}) ${s.label}`;
          say(`\n== ${label}: ${s.name}`);
          const out = await startRun({
            name: s.name,
            parentDir,
            description: `reclin demo, seed ${seed}, stage ${s.label}`,
            runConfig: parseRunConfig(s.rc, `demo ${s.name}`),
            recursiveConfig: recursiveConfig(s.on),
            recursiveConfigPath: s.on ? paths.on : paths.off,
            runConfigPath: null,
            command: redactArgv(process.argv),
            label: `[${label}]`,
            say,
          });
          s.dir = out.dir;
          s.seconds = (Date.now() - t) / 1000;
          if (out.status !== 'completed') throw new CliError(`demo seed ${seed} stage ${s.label} ${out.status}${out.error ? `: ${out.error.message}` : ''} (${out.dir})`);
          if (s.name === 'after_surgery') {
            // The sidecar path computes the chunk from the prefix state, the base from the whole sequence: the
            // same math in another order, so the loss agrees to float32 rounding, and every argmax agrees exactly.
            const base = lastEval(stages[0].dir!);
            const surg = lastEval(s.dir);
            const rel = Math.abs(surg['eval/loss'] - base['eval/loss']) / Math.abs(base['eval/loss']);
            const problems: string[] = [];
            if (!(rel <= 1e-5)) problems.push(`eval/loss base ${base['eval/loss']} vs after surgery ${surg['eval/loss']} (relative difference ${rel.toExponential(2)} > 1e-5)`);
            if (base['eval/token_accuracy'] !== surg['eval/token_accuracy']) problems.push(`eval/token_accuracy base ${base['eval/token_accuracy']} vs after surgery ${surg['eval/token_accuracy']}`);
            if (problems.length) throw new CliError(`after-surgery check FAILED (seed ${seed}): ${problems.join('; ')}`);
            say(`after-surgery check passed: token accuracy identical, eval/loss equal to the base within ${rel.toExponential(1)} (relative; float32 rounding)`);
          }
        }
        perSeed.push({ seed, stages });
      }
      const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
      const rows = [['seed', 'stage', 'steps', ...EVAL_KEYS, 'seconds']];
      for (const { seed, stages } of perSeed) {
        for (const s of stages) {
          const e = lastEval(s.dir!);
          rows.push([String(seed), s.label, String(s.rc.num_steps), ...EVAL_KEYS.map((k) => fmt(e[k])), s.seconds!.toFixed(0)]);
        }
      }
      const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      say(`\n== results (final evaluation of each stage; ${o.evalExamples} held-out examples, the same set for every stage and seed)`);
      for (const r of rows) say(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
      const arm = (name: string) => perSeed.map(({ stages }) => lastEval(stages.find((s) => s.name === name)!.dir!));
      const ctl = arm('control');
      const pa = arm('phase_a');
      say(`\n== over ${seeds.length} seed(s): mean (95% CI, Student t)`);
      for (const k of ['eval/exact_match', 'eval/token_accuracy'] as const) {
        for (const [label, vals] of [['control', ctl], ['phase a', pa]] as const) {
          const xs = vals.map((e) => e[k]).filter((v) => Number.isFinite(v));
          if (xs.length === 0) continue;
          const sm = summarize(xs);
          say(`${k.padEnd(20)} ${label.padEnd(8)} ${fmt(sm.mean)}${sm.ci ? ` (${fmt(sm.ci.low)} to ${fmt(sm.ci.high)})` : ''}, sd ${fmt(sm.sd)}`);
        }
      }
      say(`\nphase a's eval/loss and eval/token_accuracy are teacher-forced with the sidecar seeing the clean chunk, so exact match (generation) is the fair comparison; token accuracy only as a secondary reading:`);
      const tokDiff = pairedDifference(pa.map((e) => e['eval/token_accuracy']), ctl.map((e) => e['eval/token_accuracy']));
      say(`secondary: ${verdictSentence('phase a', 'control', 'eval/token_accuracy', tokDiff, { better: 'max' })}`);
      const d = pairedDifference(pa.map((e) => e['eval/exact_match']), ctl.map((e) => e['eval/exact_match']));
      if (d.permutationP !== undefined) say(`exact sign-flip permutation test on exact match: ${pClause(d.permutationP)} (the smallest p ${seeds.length} seeds can give is ${formatP(d.permutationMinP!)})`);
      const dirs = perSeed.flatMap(({ stages }) => stages.filter((s) => s.name === 'control' || s.name === 'phase_a').map((s) => path.relative(process.cwd(), s.dir!)));
      say(`the details: reclin compare ${dirs.sort((a, b) => Number(b.endsWith('control')) - Number(a.endsWith('control'))).join(' ')} --group-by phase --html demo.html`);
      say(`total time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      say(`\n${verdictSentence('phase a', 'control', 'eval/exact_match', d, { better: 'max' })}`);
    });
}
