// reclin show <dir> [--json]: one run at a glance — identity, status (stale flagged), provenance, settings,
// checkpoints and the best one, final/min/max of every metric, and the latest notes and issues.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRunMetadata, readRunStatus, summarizeRunDir } from '../experiment';
import { show as fmt } from './compare-report';
import { requireExperimentDir } from './run-dir';

export function register(program: Command): void {
  program
    .command('show')
    .description('show one run: status, provenance, settings, checkpoints, metrics, notes and issues')
    .argument('<dir>', 'experiment directory')
    .option('--json', 'print metadata, status and summary as JSON', false)
    .action((dir: string, o: { json: boolean }) => {
      const runDir = requireExperimentDir(dir);
      const meta = readRunMetadata(runDir);
      const status = readRunStatus(runDir);
      const summary = summarizeRunDir(runDir);
      if (o.json) {
        process.stdout.write(JSON.stringify({ metadata: meta, status, summary }, null, 2) + '\n');
        return;
      }
      const out: string[] = [];
      out.push(`${meta.name}  (${meta.id})`);
      if (meta.description) out.push(`  ${meta.description}`);
      out.push(`status      ${status.stale ? `STALE: ${status.reason}` : status.status}${meta.duration_s !== null ? `, ${meta.duration_s.toFixed(1)} s` : ''}`);
      out.push(`created     ${meta.created_at}${meta.ended_at ? `, ended ${meta.ended_at}` : ''}; ${meta.segments.length} segment(s): ${meta.segments.map((g) => g.status).join(', ')}`);
      out.push(`phase       ${meta.phase}; seed ${meta.seed}; device ${meta.device}; ${meta.num_steps} steps x batch ${meta.batch_size}; lr ${meta.learning_rate}, warmup ${meta.warmup_steps}`);
      out.push(`base model  ${meta.base_model ?? '(trained from scratch)'}; data ${meta.dataset ?? '-'}`);
      out.push(`git         ${meta.git ? `${meta.git.commit}${meta.git.dirty ? ' (dirty)' : ''}` : '(not a git checkout)'}`);
      out.push(`command     ${meta.command.line}`);
      out.push(`checkpoints ${summary.checkpoints.length ? summary.checkpoints.join(', ') : 'none'}`);
      const b = meta.best_checkpoint;
      out.push(`best        ${b ? `step ${b.step}${b.metric ? ` (${b.metric} = ${fmt(b.value)}, ${b.mode})` : ''}` : 'none'}`);
      const names = Object.keys(summary.final_metrics).sort();
      out.push(`metrics     ${summary.metrics_logged} records, last step ${summary.last_step ?? '-'}`);
      if (names.length) {
        const rows = [['  metric', 'final', 'min @step', 'max @step'], ...names.map((n) => {
          const m = summary.best_metrics[n];
          return [`  ${n}`, fmt(summary.final_metrics[n]), `${fmt(m.min)} @${m.minStep}`, `${fmt(m.max)} @${m.maxStep}`];
        })];
        const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows) out.push(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
      }
      for (const [label, list] of [['notes', meta.notes], ['issues', meta.issues]] as const) {
        out.push(`${label.padEnd(11)} ${list.length}${list.length > 5 ? ' (latest 5)' : ''}`);
        for (const e of list.slice(-5)) out.push(`  ${e.step === null ? '' : `[Step ${e.step}] `}${e.time}: ${e.text}`);
      }
      process.stdout.write(out.join('\n') + '\n');
    });
}
