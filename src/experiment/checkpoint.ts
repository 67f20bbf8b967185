// Checkpoints: checkpoints/step_NNNNNN/ = model/ (config.json + model.safetensors, and the run's tokenizer
// files when it has some: a loadable Hub-style model directory), optimizer.safetensors, trainer_state.json, recursive_config.json, and checkpoint_metadata.json
// (step, metrics, is_best, sha256 + size of every other file). A checkpoint is written into a hidden
// temporary folder, every file and folder fsynced, checkpoint_metadata.json last, then renamed into place:
// a folder named step_* is always complete. Loading verifies every checksum and names a corrupt file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, readJsonIfExists, sha256File, writeFileAtomic, writeJsonAtomic } from '../format/atomic';
import { readSafetensors, writeSafetensors, type TensorData, type TensorEntry } from '../format/safetensors';

export const CHECKPOINTS_DIR = 'checkpoints';
export const CHECKPOINT_METADATA = 'checkpoint_metadata.json';
const NAME_RE = /^step_(\d{6,})$/;

export interface CheckpointMetadata {
  format_version: 1;
  step: number;
  created_at: string;
  run_id: string;
  segment: number;
  metrics: Record<string, number | string>;
  is_best: boolean;
  /** The metric "best" is judged by, when the checkpoint carried it. */
  best_metric: { name: string; mode: 'min' | 'max'; value: number } | null;
  /** Relative path -> sha256 and size of every file of the checkpoint except this one. */
  files: Record<string, { sha256: string; bytes: number }>;
}

export interface SaveCheckpointInput {
  step: number;
  /** HF-style names -> Tensor or { dtype, shape, data }. */
  model: Record<string, TensorEntry>;
  /** Recursive sidecar and LoRA tensors: model/sidecar.safetensors, so model.safetensors stays a loadable base model. */
  sidecar?: Record<string, TensorEntry> | null;
  optimizer?: Record<string, TensorEntry> | null;
  /** Step, schedule state, RNG state, data position, best-so-far: whatever resuming needs (JSON). */
  trainerState?: Record<string, unknown>;
  metrics?: Record<string, number>;
  isBest: boolean;
  bestMetric: CheckpointMetadata['best_metric'];
  modelConfig: Record<string, unknown>;
  recursiveConfig: Record<string, unknown>;
  runId: string;
  segment: number;
  /** Further files of model/ by name (the run's tokenizer files, src/tokenizer/files.ts). */
  modelFiles?: { name: string; data: Uint8Array }[];
}

export interface LoadedCheckpoint {
  step: number;
  dir: string;
  model: Record<string, TensorData>;
  optimizer: Record<string, TensorData> | null;
  trainerState: Record<string, unknown>;
  modelConfig: Record<string, unknown>;
  recursiveConfig: Record<string, unknown> | null;
  metadata: CheckpointMetadata;
}

export class CheckpointError extends Error {
  /** The file at fault, when one is. */
  readonly file: string | undefined;
  constructor(message: string, file?: string) {
    super(message);
    this.name = 'CheckpointError';
    this.file = file;
  }
}

export const SIDECAR_FILE = 'sidecar.safetensors';

export function checkpointName(step: number): string {
  return `step_${String(step).padStart(6, '0')}`;
}

/** Metric values as JSON can hold them: NaN and infinities as strings. */
export function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a checkpoint atomically (see the file comment). Returns its folder and file manifest. */
export function writeCheckpoint(runDir: string, input: SaveCheckpointInput): { dir: string; metadata: CheckpointMetadata } {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  fs.mkdirSync(root, { recursive: true });
  const name = checkpointName(input.step);
  const tmp = path.join(root, `.tmp-${name}-${process.pid}-${Date.now().toString(36)}`);
  fs.mkdirSync(path.join(tmp, 'model'), { recursive: true });
  const files: CheckpointMetadata['files'] = {};
  const record = (rel: string, sha256: string) => {
    files[rel] = { sha256, bytes: fs.statSync(path.join(tmp, rel)).size };
  };
  try {
    record('model/config.json', writeJsonAtomic(path.join(tmp, 'model', 'config.json'), input.modelConfig));
    record('model/model.safetensors', writeSafetensors(path.join(tmp, 'model', 'model.safetensors'), input.model, { format: 'pt' }).sha256);
    for (const f of input.modelFiles ?? []) {
      if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(f.name) || `model/${f.name}` in files || ['model.safetensors', SIDECAR_FILE].includes(f.name))
        throw new CheckpointError(`writeCheckpoint: model file name ${JSON.stringify(f.name)} is not a plain file name or collides with one of the model's own files`);
      record(`model/${f.name}`, writeFileAtomic(path.join(tmp, 'model', f.name), f.data));
    }
    if (input.sidecar && Object.keys(input.sidecar).length > 0) record(`model/${SIDECAR_FILE}`, writeSafetensors(path.join(tmp, 'model', SIDECAR_FILE), input.sidecar, { format: 'pt' }).sha256);
    if (input.optimizer) record('optimizer.safetensors', writeSafetensors(path.join(tmp, 'optimizer.safetensors'), input.optimizer, { format: 'pt' }).sha256);
    record('trainer_state.json', writeJsonAtomic(path.join(tmp, 'trainer_state.json'), { ...(input.trainerState ?? {}), step: input.step }));
    record('recursive_config.json', writeJsonAtomic(path.join(tmp, 'recursive_config.json'), input.recursiveConfig));
    const metadata: CheckpointMetadata = {
      format_version: 1,
      step: input.step,
      created_at: new Date().toISOString(),
      run_id: input.runId,
      segment: input.segment,
      metrics: Object.fromEntries(Object.entries(input.metrics ?? {}).map(([k, v]) => [k, jsonNumber(v)])),
      is_best: input.isBest,
      best_metric: input.bestMetric,
      files,
    };
    writeJsonAtomic(path.join(tmp, CHECKPOINT_METADATA), metadata);
    for (const rel of Object.keys(files)) fsyncFile(path.join(tmp, rel)); // already synced by the writers; cheap and explicit
    fsyncDir(path.join(tmp, 'model'));
    fsyncDir(tmp);
    const final = path.join(root, name);
    if (fs.existsSync(final)) {
      // Saving a step again (e.g. after a resume): keep the old one aside until the new one is in place.
      const old = path.join(root, `.old-${name}-${process.pid}-${Date.now().toString(36)}`);
      fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fsyncDir(root);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, final);
    }
    fsyncDir(root);
    return { dir: final, metadata };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Complete checkpoints (folders named step_N), ascending by step. */
export function listCheckpoints(runDir: string): { step: number; name: string; dir: string }[] {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((n) => ({ m: NAME_RE.exec(n), n }))
    .filter((x) => x.m !== null && fs.existsSync(path.join(root, x.n, CHECKPOINT_METADATA)))
    .map((x) => ({ step: Number(x.m![1]), name: x.n, dir: path.join(root, x.n) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Leftovers of interrupted writes: temporary folders are removed, a folder set aside while its step was
 * being re-saved is put back if the new one never arrived. Returns what was removed or restored.
 */
export function cleanupIncompleteCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return [];
  const done: string[] = [];
  for (const n of fs.readdirSync(root)) {
    const p = path.join(root, n);
    if (n.startsWith('.tmp-') || n.startsWith('.del-')) {
      fs.rmSync(p, { recursive: true, force: true });
      done.push(`removed ${n}`);
    } else if (n.startsWith('.old-')) {
      const target = path.join(root, n.slice(5).replace(/-\d+-[0-9a-z]+$/, ''));
      if (fs.existsSync(target)) {
        fs.rmSync(p, { recursive: true, force: true });
        done.push(`removed ${n}`);
      } else {
        fs.renameSync(p, target);
        done.push(`restored ${n}`);
      }
    }
  }
  if (done.length) fsyncDir(root);
  return done;
}

/** Checks every file of a checkpoint against its manifest; throws CheckpointError naming the first bad file. */
export function verifyCheckpoint(dir: string): CheckpointMetadata {
  const metaFile = path.join(dir, CHECKPOINT_METADATA);
  let meta: CheckpointMetadata | undefined;
  try {
    meta = readJsonIfExists<CheckpointMetadata>(metaFile);
  } catch (e) {
    throw new CheckpointError(`${metaFile}: corrupt (${(e as Error).message})`, metaFile);
  }
  if (!meta) throw new CheckpointError(`${dir}: not a complete checkpoint (no ${CHECKPOINT_METADATA})`, metaFile);
  if (typeof meta.files !== 'object' || meta.files === null) throw new CheckpointError(`${metaFile}: corrupt (no file manifest)`, metaFile);
  for (const [rel, want] of Object.entries(meta.files)) {
    const file = path.join(dir, rel);
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) throw new CheckpointError(`${file}: missing from the checkpoint (listed in ${CHECKPOINT_METADATA})`, file);
    if (st.size !== want.bytes) throw new CheckpointError(`${file}: corrupt (size ${st.size} bytes, expected ${want.bytes})`, file);
    const got = sha256File(file);
    if (got !== want.sha256) throw new CheckpointError(`${file}: corrupt (sha256 ${got.slice(0, 16)}..., expected ${want.sha256.slice(0, 16)}...)`, file);
  }
  return meta;
}

function readJsonFile(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Resolves 'latest' / 'best' / a step to a complete checkpoint folder of the run. */
export function resolveCheckpoint(runDir: string, which: number | 'latest' | 'best', bestStep: number | null): { step: number; dir: string } {
  const all = listCheckpoints(runDir);
  if (all.length === 0) throw new CheckpointError(`${runDir}: has no complete checkpoint`);
  if (which === 'latest') return all[all.length - 1];
  if (which === 'best') {
    let step = bestStep;
    if (step === null) {
      // No run-level record (older or foreign run): the newest checkpoint that was best when saved.
      const marked = all.filter((c) => readJsonIfExists<CheckpointMetadata>(path.join(c.dir, CHECKPOINT_METADATA))?.is_best);
      if (marked.length === 0) throw new CheckpointError(`${runDir}: no best checkpoint is recorded`);
      step = marked[marked.length - 1].step;
    }
    const found = all.find((c) => c.step === step);
    if (!found) throw new CheckpointError(`${runDir}: the best checkpoint (step ${step}) is missing`);
    return found;
  }
  if (!Number.isSafeInteger(which) || which < 0) throw new CheckpointError(`loadCheckpoint: expected a step (integer >= 0), 'latest' or 'best', got ${JSON.stringify(which)}`);
  const found = all.find((c) => c.step === which);
  if (!found) throw new CheckpointError(`${runDir}: no checkpoint for step ${which} (have: ${all.map((c) => c.step).join(', ')})`);
  return found;
}

/** Verifies and loads a checkpoint folder. */
export function loadCheckpointDir(dir: string): LoadedCheckpoint {
  const metadata = verifyCheckpoint(dir);
  const opt = path.join(dir, 'optimizer.safetensors');
  const rc = path.join(dir, 'recursive_config.json');
  const sidecar = path.join(dir, 'model', SIDECAR_FILE);
  return {
    step: metadata.step,
    dir,
    // Base and sidecar tensors by name, as one record (resume restores both from it).
    model: { ...readSafetensors(path.join(dir, 'model', 'model.safetensors')).tensors, ...(fs.existsSync(sidecar) ? readSafetensors(sidecar).tensors : {}) },
    optimizer: fs.existsSync(opt) ? readSafetensors(opt).tensors : null,
    trainerState: readJsonFile(path.join(dir, 'trainer_state.json')),
    modelConfig: readJsonFile(path.join(dir, 'model', 'config.json')),
    recursiveConfig: fs.existsSync(rc) ? readJsonFile(rc) : null,
    metadata,
  };
}

/**
 * Retention: keeps the newest `keepLast` checkpoints (all when null) and the best one, deletes the rest.
 * A folder is renamed to a hidden name before removal, so a crash mid-delete never leaves a partial step_*.
 */
export function applyRetention(runDir: string, keepLast: number | null, bestStep: number | null): number[] {
  if (keepLast === null) return [];
  const all = listCheckpoints(runDir);
  const keep = new Set(all.slice(Math.max(0, all.length - keepLast)).map((c) => c.step));
  if (bestStep !== null) keep.add(bestStep);
  const deleted: number[] = [];
  for (const c of all) {
    if (keep.has(c.step)) continue;
    const doomed = path.join(path.dirname(c.dir), `.del-${c.name}-${process.pid}`);
    fs.renameSync(c.dir, doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
    deleted.push(c.step);
  }
  if (deleted.length) fsyncDir(path.join(runDir, CHECKPOINTS_DIR));
  return deleted;
}

/** On a resume from `step`: checkpoints after it belong to the abandoned future; move them out of the way. */
export function supersedeCheckpointsAfter(runDir: string, step: number, segment: number): number[] {
  const moved: number[] = [];
  const dest = path.join(runDir, CHECKPOINTS_DIR, 'superseded');
  for (const c of listCheckpoints(runDir)) {
    if (c.step <= step) continue;
    fs.mkdirSync(dest, { recursive: true });
    fs.renameSync(c.dir, path.join(dest, `${c.name}_segment${segment}`));
    moved.push(c.step);
  }
  if (moved.length) fsyncDir(path.join(runDir, CHECKPOINTS_DIR));
  return moved;
}
