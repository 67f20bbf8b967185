// A model directory, as on the Hugging Face Hub: config.json + model.safetensors (HF-style names, F32).
// Each file is written atomically. A tied lm_head is not stored (HF convention); loading checks that the
// file holds exactly the model's parameters with the right shapes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../experiment/atomic';
import { readSafetensors, tensorDataToFloat32, writeSafetensors } from '../experiment/safetensors';
import { type Device, Tensor } from '../tensor';
import { loadModelConfig } from './config';
import { KimiLinearLM, type ModelOptions } from './model';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** Writes `dir`/config.json and `dir`/model.safetensors (creating dir). */
export function saveModel(model: KimiLinearLM, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: Record<string, Tensor> = {};
  for (const p of model.parameters()) tensors[p.name] = p.data;
  writeSafetensors(path.join(dir, WEIGHTS_FILE), tensors, { format: 'pt', producer: 'reclin' });
  writeJsonAtomic(path.join(dir, CONFIG_FILE), model.config);
}

/**
 * The Hugging Face checkpoint stores two tensors with extra unit dims: conv weights [C,1,W] (ours [C,W]) and
 * A_log [1,1,H,1] (ours [H]); the data order is the same, so they load as they are.
 */
function isHfLayout(name: string, file: readonly number[], ours: readonly number[]): boolean {
  if (name.endsWith('conv1d.weight')) return file.length === 3 && file[0] === ours[0] && file[1] === 1 && file[2] === ours[1];
  if (name.endsWith('.A_log')) return file.length === 4 && file[0] === 1 && file[1] === 1 && file[2] === ours[0] && file[3] === 1;
  return false;
}

/** Copies weights from a safetensors file into the model's parameters (names and shapes must match exactly). */
export function loadWeights(model: KimiLinearLM, file: string): void {
  const { tensors } = readSafetensors(file);
  const params = model.namedParameters();
  const missing = [...params.keys()].filter((n) => !(n in tensors));
  const unexpected = Object.keys(tensors).filter((n) => !params.has(n));
  if (missing.length || unexpected.length)
    throw new Error(
      `${file}: weights do not match the model` +
        (missing.length ? `; missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8} more)` : ''}` : '') +
        (unexpected.length ? `; unexpected: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ` (+${unexpected.length - 8} more)` : ''}` : ''),
    );
  for (const [name, p] of params) {
    const td = tensors[name];
    if (td.shape.join(',') !== p.shape.join(',') && !isHfLayout(name, td.shape, p.shape))
      throw new RangeError(`${file}: ${name} has shape [${td.shape.join(',')}], the model expects [${p.shape.join(',')}]`);
    const t = Tensor.from(tensorDataToFloat32(td), p.shape, { device: p.data.device as Device });
    p.assign(t);
    t.dispose();
  }
}

/** Builds the model from `dir`/config.json and loads `dir`/model.safetensors. */
export function loadModel(dir: string, opts: ModelOptions = {}): KimiLinearLM {
  const cfgFile = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(cfgFile)) throw new Error(`loadModel: ${dir} has no ${CONFIG_FILE}`);
  const model = new KimiLinearLM(loadModelConfig(cfgFile), opts);
  try {
    loadWeights(model, path.join(dir, WEIGHTS_FILE));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
