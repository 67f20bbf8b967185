// What an experiment upload contains, as (path in the repo, local file, size). Decided here, once, so that the
// dry run lists exactly what the real upload sends.
//
// Repo layout: the best checkpoint's model directory at the root (config.json, model.safetensors, ...), so the
// repo loads as a model; the model card as README.md; and the experiment's record under its usual names:
// experiment_metadata.json, run_config.json, recursive_config.json, checkpoint_metadata.json (of the uploaded
// checkpoint), metrics/, notes/ and logs/ (TensorBoard). Optimizer state, other checkpoints, status.json and
// lock files stay local.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, listCheckpoints, resolveCheckpoint, verifyCheckpoint } from '../experiment/checkpoint';

export interface UploadEntry {
  /** Path inside the Hub repo (forward slashes). */
  path: string;
  /** Absolute local path of the file. */
  localPath: string;
  size: number;
}

export interface UploadPlan {
  dir: string;
  /** The experiment's name from its metadata (the directory name when absent). */
  name: string;
  /** The checkpoint whose model is uploaded. */
  checkpoint: { step: number; dir: string };
  files: UploadEntry[];
  totalBytes: number;
}

export class UploadPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadPlanError';
  }
}

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UploadPlanError(`${file}: not readable JSON (${(e as Error).message})`);
  }
}

/**
 * The checkpoint to upload: the run's recorded best (experiment_metadata.json best_checkpoint), else the newest
 * checkpoint flagged best when saved, else the newest one — verified against its checksums, so a corrupt
 * checkpoint is never uploaded.
 */
export function bestCheckpoint(dir: string): { step: number; dir: string } {
  const meta = readJson(path.join(dir, 'experiment_metadata.json'));
  const bestStep: number | null = typeof meta?.best_checkpoint?.step === 'number' ? meta.best_checkpoint.step : null;
  if (listCheckpoints(dir).length === 0) throw new UploadPlanError(`${dir}: no complete checkpoint under checkpoints/ (nothing to upload)`);
  let chosen: { step: number; dir: string };
  try {
    chosen = resolveCheckpoint(dir, 'best', bestStep);
  } catch (e) {
    if (!(e instanceof CheckpointError) || bestStep !== null) throw new UploadPlanError((e as Error).message);
    chosen = resolveCheckpoint(dir, 'latest', null); // no best recorded (no eval metric): the newest
  }
  try {
    verifyCheckpoint(chosen.dir);
  } catch (e) {
    throw new UploadPlanError(`refusing to upload a damaged checkpoint: ${(e as Error).message}`);
  }
  return { step: chosen.step, dir: chosen.dir };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.isFile()) out.push(p);
  }
  return out;
}

export function planUpload(dirArg: string): UploadPlan {
  const dir = path.resolve(dirArg);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UploadPlanError(`dir: ${dirArg} is not a directory`);
  if (!fs.existsSync(path.join(dir, 'experiment_metadata.json'))) {
    throw new UploadPlanError(`dir: ${dirArg} is not an experiment directory (no experiment_metadata.json)`);
  }
  const meta = readJson(path.join(dir, 'experiment_metadata.json'));
  const name = typeof meta?.name === 'string' ? meta.name : path.basename(dir);
  if (!fs.existsSync(path.join(dir, 'README.md'))) {
    throw new UploadPlanError(`${dirArg}: no model card (README.md); write it with \`reclin card ${dirArg}\``);
  }
  const checkpoint = bestCheckpoint(dir);
  const entries: { path: string; localPath: string }[] = [];
  const modelDir = path.join(checkpoint.dir, 'model');
  for (const f of walk(modelDir)) entries.push({ path: path.relative(modelDir, f), localPath: f });
  const ckptMeta = path.join(checkpoint.dir, 'checkpoint_metadata.json');
  if (fs.existsSync(ckptMeta)) entries.push({ path: 'checkpoint_metadata.json', localPath: ckptMeta });
  for (const name of ['README.md', 'experiment_metadata.json', 'run_config.json', 'recursive_config.json']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) entries.push({ path: name, localPath: p });
  }
  for (const sub of ['metrics', 'notes', 'logs']) {
    const p = path.join(dir, sub);
    if (fs.existsSync(p)) for (const f of walk(p)) entries.push({ path: path.relative(dir, f), localPath: f });
  }
  const seen = new Map<string, string>();
  const files: UploadEntry[] = [];
  for (const e of entries) {
    const repoPath = e.path.split(path.sep).join('/');
    const prev = seen.get(repoPath);
    if (prev) throw new UploadPlanError(`two files would land at ${repoPath} in the repo: ${prev} and ${e.localPath}`);
    seen.set(repoPath, e.localPath);
    files.push({ path: repoPath, localPath: e.localPath, size: fs.statSync(e.localPath).size });
  }
  return { dir, name, checkpoint, files, totalBytes: files.reduce((s, f) => s + f.size, 0) };
}
