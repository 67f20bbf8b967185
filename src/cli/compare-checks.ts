// What compare must say before anyone reads its numbers: whether the runs were evaluated on the same set
// (eval_set.hash in each run's metadata), and which eval metrics are fair across runs with and without the
// sidecar. The teacher-forced metrics of a recursive run see the whole clean chunk (the refine cells pool
// over it), so they are not comparable with a base model's; generation (exact match) is.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunSummary } from './compare-report';

/** Teacher-forced on the clean chunk when the run has the sidecar. */
const TEACHER_FORCED = ['eval/loss', 'eval/perplexity', 'eval/token_accuracy'];

export interface CompareChecks {
  /** One line each: runs evaluated on different (or unrecorded) sets. */
  warnings: string[];
  /** metric -> how to read it across these runs. */
  marks: Map<string, string>;
}

function evalHashOf(dir: string): string | null {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8')) as { extra?: { eval_set?: { hash?: unknown } } };
    const h = meta.extra?.eval_set?.hash;
    return typeof h === 'string' ? h : null;
  } catch {
    return null;
  }
}

export function compareChecks(runs: RunSummary[]): CompareChecks {
  const warnings: string[] = [];
  const hashes = runs.map((r) => evalHashOf(r.dir));
  const missing = runs.filter((_, i) => hashes[i] === null).map((r) => r.name);
  if (missing.length) warnings.push(`warning: no evaluation-set hash recorded for ${missing.join(', ')} (made before reclin recorded one): their eval metrics may come from another set`);
  const groups = new Map<string, string[]>();
  runs.forEach((r, i) => {
    if (hashes[i] !== null) groups.set(hashes[i]!, [...(groups.get(hashes[i]!) ?? []), r.name]);
  });
  if (groups.size > 1) {
    const sets = [...groups.entries()].map(([h, names]) => `${names.join(', ')} (set ${h.slice(0, 12)})`);
    warnings.push(`warning: the runs were evaluated on different sets, so their eval metrics are not comparable: ${sets.join('; ')}`);
  }
  const marks = new Map<string, string>();
  const recursive = runs.filter((r) => r.config['recursive.recursive_enabled'] === true).map((r) => r.name);
  const present = new Set(runs.flatMap((r) => Object.keys(r.series)));
  if (recursive.length) {
    for (const m of TEACHER_FORCED)
      if (present.has(m)) marks.set(m, `teacher-forced on the clean chunk in ${recursive.join(', ')} (the sidecar sees the whole chunk): not comparable with runs without the sidecar`);
    for (const m of present) if (m.startsWith('eval/denoise_')) marks.set(m, 'the sidecar\'s training objective on corrupted drafts: recursive runs only');
  }
  if (present.has('eval/exact_match')) marks.set('eval/exact_match', 'fair: generation from the prompt alone, comparable across all runs on the same set');
  return { warnings, marks };
}

/** The checks as text for the terminal (empty when there is nothing to say). */
export function renderChecks(c: CompareChecks): string {
  const out = [...c.warnings];
  if (c.marks.size) {
    out.push('how to read the eval metrics:');
    for (const [m, t] of c.marks) out.push(`  ${m}: ${t}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
