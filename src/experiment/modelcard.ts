// The Hugging Face model card (README.md of a run): YAML front matter with the keys the Hub reads
// (huggingface_hub ModelCardData: license, library_name, tags, base_model, pipeline_tag, model-index), then a
// human description of what was trained, how, what came out, and how to reproduce it. Nothing is printed as
// "N/A": a fact that was not recorded is left out, one that was is shown. The card links to no page (reclin has
// no public page yet, and a link that 404s on the Hub misleads); files of the run are named, not linked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RecursiveConfig, RunConfig } from './config';
import type { ExperimentMetadata } from './run-metadata';

export interface ModelCardInput {
  meta: ExperimentMetadata;
  recursiveConfig: RecursiveConfig;
  runConfig: RunConfig;
  summary: Record<string, { last: number; lastStep: number; min: number; minStep: number; max: number; maxStep: number; count: number }>;
  checkpoints: number[];
}

// ---- a small YAML emitter: block style, every string double-quoted (JSON strings are valid YAML scalars) ----

type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml };

function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? '.nan' : v === Infinity ? '.inf' : v === -Infinity ? '-.inf' : String(v);
  return JSON.stringify(v);
}

function yamlKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
}

function isScalar(v: Yaml): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

function emit(v: Yaml, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const item of v) {
      if (isScalar(item)) out.push(`${pad}- ${yamlScalar(item)}`);
      else if (Array.isArray(item)) out.push(`${pad}-`, ...emit(item, indent + 2));
      else {
        const lines = emit(item, indent + 2);
        out.push(`${pad}- ${lines[0].trimStart()}`, ...lines.slice(1));
      }
    }
    return out;
  }
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, Yaml>)) {
    if (isScalar(val)) out.push(`${pad}${yamlKey(k)}: ${yamlScalar(val)}`);
    else if (Array.isArray(val) && val.length === 0) out.push(`${pad}${yamlKey(k)}: []`);
    else if (!Array.isArray(val) && Object.keys(val).length === 0) out.push(`${pad}${yamlKey(k)}: {}`);
    else out.push(`${pad}${yamlKey(k)}:`, ...emit(val, indent + 2));
  }
  return out;
}

export function toYaml(v: Record<string, Yaml>): string {
  return `${emit(v, 0).join('\n')}\n`;
}

// ---- the card ---------------------------------------------------------------------------------------------

const PHASE_TEXT: Record<string, string> = {
  baseline: 'baseline: the base language model, recursion off',
  after_surgery: 'after surgery: the sidecar added with zero-initialised outputs and nothing trained (must equal the baseline)',
  a: 'phase A: the sidecar (refine cells, boundary head, latent token) trained on a frozen base',
  b: 'phase B: as phase A, plus LoRA on the attention and MLP projections of the top layers',
  c: 'phase C: as phase B, plus every 4th block unfrozen with an L2-to-pretrained penalty',
};

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function evalMetrics(summary: ModelCardInput['summary']): [string, number][] {
  return Object.entries(summary)
    .filter(([k, s]) => /^(eval|evaluation|test)\//.test(k) && Number.isFinite(s.last))
    .map(([k, s]) => [k, s.last]);
}

export function renderModelCard(input: ModelCardInput): string {
  const { meta, recursiveConfig: rc, runConfig: run, summary, checkpoints } = input;
  const tags = [...new Set(['reclin', 'kimi-linear', 'kda', 'linear-attention', ...(rc.recursive_enabled ? ['recursive-refinement'] : []), `phase-${meta.phase.replace(/_/g, '-')}`, ...meta.tags])];
  const front: Record<string, Yaml> = { license: meta.license, library_name: 'reclin', pipeline_tag: 'text-generation', tags };
  // base_model must be a Hub model id; a local directory (a base trained here) is named in the text instead.
  const base = meta.base_model;
  if (base && HUB_ID.test(base) && !base.startsWith('.') && !fs.existsSync(path.resolve(meta.command.cwd, base))) front.base_model = base;
  const evals = evalMetrics(summary);
  if (evals.length > 0) {
    front['model-index'] = [
      {
        name: meta.name,
        results: [
          {
            task: { type: 'text-generation', name: 'Text Generation' },
            dataset: { type: meta.dataset ?? run.data.train, name: meta.dataset ?? run.data.train, split: run.data.eval ? 'eval' : 'held-out' },
            metrics: evals.map(([k, v]) => ({ type: k.split('/').slice(1).join('_') || k, value: v, name: k })),
          },
        ],
      },
    ];
  }

  const L: string[] = ['---', toYaml(front).trimEnd(), '---', '', `# ${meta.name}`, ''];
  if (meta.description) L.push(meta.description, '');
  L.push(
    `A Kimi-Linear-style (KDA linear attention) language model run recorded by reclin (a TypeScript toolkit for recursive-refinement experiments): ${PHASE_TEXT[meta.phase] ?? `phase ${meta.phase}`}.`,
    '',
    `Status: **${meta.status}**${meta.ended_at ? ` (ended ${meta.ended_at})` : ''}. Run id \`${meta.id}\`, created ${meta.created_at}.`,
    '',
  );

  L.push('## Model', '');
  if (meta.base_model) L.push(`- Base model: \`${meta.base_model}\``);
  if (run.model.config) L.push(`- Architecture: \`${run.model.config}\``);
  L.push(`- Recursive sidecar: ${rc.recursive_enabled ? `enabled — chunk width ${rc.chunk_width}, up to ${rc.max_inner_steps} inner steps, commit at p ≥ ${rc.commit_threshold} (forced below ${rc.min_commit_threshold} at the last step), refined layers: ${rc.layers_to_refine === 'all' ? 'all' : rc.layers_to_refine.join(', ')}` : 'disabled (the model is the base model, bit for bit)'}`);
  L.push('', '<details><summary>Recursive config</summary>', '', '| field | value |', '|---|---|');
  for (const [k, v] of Object.entries(rc)) L.push(`| ${k} | ${cell(typeof v === 'object' ? JSON.stringify(v) : String(v))} |`);
  L.push('', '</details>', '');

  L.push('## Training', '', '| setting | value |', '|---|---|');
  const rows: [string, string][] = [
    ['phase', meta.phase],
    ['steps', meta.last_step !== null && meta.last_step !== meta.num_steps ? `${meta.num_steps} planned, ${meta.last_step} reached` : String(meta.num_steps)],
    ['batch size', String(meta.batch_size)],
    ['learning rate', `${fmt(meta.learning_rate)} (${run.schedule.decay} decay after ${meta.warmup_steps} warmup steps)`],
    ['optimizer', `AdamW (β1 ${run.optimizer.beta1}, β2 ${run.optimizer.beta2}, eps ${fmt(run.optimizer.eps)}, weight decay ${run.optimizer.weight_decay}${run.optimizer.grad_clip !== null ? `, clip ${run.optimizer.grad_clip}` : ''})`],
    ['data', `${run.data.train}${run.data.eval ? ` (eval: ${run.data.eval})` : ''}, sequence length ${run.data.seq_len}`],
    ['seed', String(meta.seed)],
    ['device', meta.device],
  ];
  if (meta.duration_s !== null) {
    const killed = meta.segments.filter((g) => g.status === 'killed').length;
    const how = meta.segments.length > 1 ? ` over ${meta.segments.length} segments (resumed ${meta.segments.length - 1}×${killed ? `; ${killed} killed, counted to their last heartbeat` : ''})` : '';
    rows.push(['duration', `${meta.duration_s} s of training wall time${how}`]);
  }
  const gpu = meta.runtime.cuda?.gpus?.map((g) => g.name).join(', ');
  rows.push(['hardware', `${meta.host.cpu_model} (${meta.host.cpu_count} cores)${gpu ? `, ${gpu}` : ''}`]);
  const sw = [meta.runtime.reclin ? `reclin ${meta.runtime.reclin}` : 'reclin', `Node ${meta.runtime.node}`];
  if (meta.runtime.addon) sw.push(`${meta.runtime.addon.cuda ? 'CUDA' : 'CPU'} addon${meta.runtime.addon.threads ? ` (${meta.runtime.addon.threads} threads)` : ''}`);
  if (meta.runtime.cuda?.driver) sw.push(`driver ${meta.runtime.cuda.driver}${meta.runtime.cuda.cuda_version ? ` (CUDA ${meta.runtime.cuda.cuda_version})` : ''}`);
  rows.push(['software', sw.join(', ')]);
  if (meta.git) rows.push(['code', `git ${meta.git.commit.slice(0, 12)}${meta.git.dirty ? ' + uncommitted changes (git_diff.patch)' : ''}`]);
  for (const [k, v] of rows) L.push(`| ${k} | ${cell(v)} |`);
  L.push('');

  L.push('## Results', '');
  const names = Object.keys(summary).sort((a, b) => (/^(eval|evaluation|test)\//.test(b) ? 1 : 0) - (/^(eval|evaluation|test)\//.test(a) ? 1 : 0) || a.localeCompare(b));
  if (names.length === 0) L.push('No metrics were logged.', '');
  else {
    L.push('| metric | final (step) | min (step) | max (step) |', '|---|---|---|---|');
    for (const k of names) {
      const s = summary[k];
      L.push(`| ${cell(k)} | ${fmt(s.last)} (${s.lastStep}) | ${fmt(s.min)} (${s.minStep}) | ${fmt(s.max)} (${s.maxStep}) |`);
    }
    L.push('');
  }
  if (meta.best_checkpoint) {
    const b = meta.best_checkpoint;
    L.push(`Best checkpoint: step ${b.step}${b.metric !== null && b.value !== null ? ` (${b.metric} = ${fmt(b.value)}, ${b.mode === 'min' ? 'lower' : 'higher'} is better)` : ''}, \`checkpoints/step_${String(b.step).padStart(6, '0')}/model\`.`);
  }
  if (checkpoints.length) L.push(`Checkpoints kept: ${checkpoints.join(', ')}.`);
  L.push('');

  const notes = meta.notes.slice(-10);
  const issues = meta.issues.slice(-10);
  if (notes.length) {
    L.push(`## Notes${meta.notes.length > notes.length ? ` (last ${notes.length} of ${meta.notes.length})` : ''}`, '');
    for (const n of notes) L.push(`- ${n.step !== null ? `[step ${n.step}] ` : ''}${n.text.replace(/\r?\n/g, ' ')}`);
    L.push('');
  }
  if (issues.length) {
    L.push(`## Issues${meta.issues.length > issues.length ? ` (last ${issues.length} of ${meta.issues.length})` : ''}`, '');
    for (const n of issues) L.push(`- ${n.step !== null ? `[step ${n.step}] ` : ''}${n.text.replace(/\r?\n/g, ' ')}`);
    L.push('');
  }

  L.push('## Reproduce', '', 'The command that ran:', '', '```bash', meta.command.line, '```', '');
  if (meta.git) L.push(`from \`${meta.command.cwd}\` at git commit \`${meta.git.commit}\`${meta.git.dirty ? ' with `git apply git_diff.patch`' : ''}. Or re-run it from its saved configs and seed: \`npx reclin reproduce <this directory>\`.`, '');
  else L.push(`from \`${meta.command.cwd}\`. Or re-run it from its saved configs and seed: \`npx reclin reproduce <this directory>\`.`, '');

  L.push('## Files', '', '- `recursive_config.json`, `run_config.json`: the configs used (validated, resolved)', '- `experiment_metadata.json`: provenance, status, best checkpoint, notes and issues', '- `checkpoints/step_NNNNNN/model/`: `config.json` + `model.safetensors` (load with reclin or `safetensors`)', '- `metrics/metrics.jsonl`, `logs/` (TensorBoard), `notes/`', '');
  return L.join('\n');
}
