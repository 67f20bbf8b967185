// Real interop for a whole tracker run: the Python `safetensors` package loads every tensor of every
// checkpoint with the right dtype, shape and values; TensorBoard's own EventAccumulator reads back every
// scalar, text and histogram with the right steps and values; PyYAML parses the model card's front matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker, listCheckpoints, readSafetensors, bf16BitsToFloat32 } from '../src/experiment';
import { randn, requirePython, runPython } from './helpers';

async function makeRun(): Promise<string> {
  const tr = await ExperimentTracker.create({ name: 'interop', dir: fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-io-')), modelConfig: { hidden_size: 3 }, flushIntervalMs: 0, runConfig: { checkpoint: { keep_last: null } }, description: 'interop: "quoted" text' });
  for (let s = 1; s <= 5; s++) tr.logMetrics({ 'train/loss': 1 / s, 'train/lr': s * 1e-4 }, s);
  tr.logMetrics({ 'eval/loss': 0.75, 'eval/exact_match': 0.25 }, 5);
  tr.logText('notes/plan', 'refine **twice**', 2);
  tr.logGenerationSample('12+30=', '42', 5, { exact_match: 1 });
  tr.logHistogram('weights/embed', randn(1000, 3), 4);
  for (const step of [3, 5]) {
    await tr.saveCheckpoint({
      step,
      model: {
        'model.embed_tokens.weight': { dtype: 'F32', shape: [4, 3], data: randn(12, step) },
        'model.layers.0.self_attn.q_proj.weight': { dtype: 'BF16', shape: [3, 3], data: randn(9, step + 100) },
        'model.position_ids': { dtype: 'I32', shape: [2, 2], data: Int32Array.from([0, 1, 2, step]) },
      },
      optimizer: { 'model.embed_tokens.weight.exp_avg': { dtype: 'F32', shape: [4, 3], data: randn(12, step + 7) }, 'step': { dtype: 'I32', shape: [], data: Int32Array.from([step]) } },
      metrics: { 'eval/loss': 1 / step },
    });
  }
  await tr.close();
  return tr.dir;
}

test('interop: the Python safetensors package loads every tensor of every checkpoint (dtype, shape, values)', async (t) => {
  const py = requirePython(['safetensors', 'numpy']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = await makeRun();
  const files = listCheckpoints(dir).flatMap((c) => [path.join(c.dir, 'model', 'model.safetensors'), path.join(c.dir, 'optimizer.safetensors')]);
  assert.equal(files.length, 4);
  const out = JSON.parse(runPython(py.python, `
import json, sys, struct, numpy as np
from safetensors import safe_open
res = {}
for path in sys.argv[1:]:
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    tensors = {}
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
        for k in f.keys():
            sl = f.get_slice(k)
            dt, shape = sl.get_dtype(), list(sl.get_shape())
            if dt == "BF16":  # numpy has no bfloat16: widen the stored bits ourselves
                b, e = header[k]["data_offsets"]
                vals = (np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                a = f.get_tensor(k)
                assert list(a.shape) == shape
                vals = a
            tensors[k] = {"dtype": dt, "shape": shape, "values": np.asarray(vals, dtype=np.float64).ravel().tolist()}
    res[path] = {"meta": meta, "tensors": tensors}
print(json.dumps(res))
`, files));
  for (const file of files) {
    const ours = readSafetensors(file);
    const theirs = out[file];
    assert.deepEqual(theirs.meta, { format: 'pt' }, file);
    assert.deepEqual(Object.keys(theirs.tensors).sort(), Object.keys(ours.tensors).sort(), file);
    for (const [name, t] of Object.entries(ours.tensors)) {
      const p = theirs.tensors[name];
      assert.equal(p.dtype, t.dtype, `${file} ${name}`);
      assert.deepEqual(p.shape, t.shape, `${file} ${name}`);
      const want = t.dtype === 'BF16' ? bf16BitsToFloat32(t.data as Uint16Array) : t.data;
      assert.deepEqual(p.values, Array.from(want as ArrayLike<number>), `${file} ${name}`);
    }
  }
});

test('interop: TensorBoard\'s EventAccumulator reads every scalar, text and histogram of a tracker run', async (t) => {
  const py = requirePython(['tensorboard']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = await makeRun();
  const out = JSON.parse(runPython(py.python, `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "tensors": 0, "histograms": 0})
ea.Reload()
tags = ea.Tags()
res = {"scalars": {}, "texts": {}, "histograms": {}}
for tag in tags["scalars"]:
    res["scalars"][tag] = [[e.step, e.value] for e in ea.Scalars(tag)]
for tag in tags["tensors"]:
    res["texts"][tag] = [[e.step, [s.decode() for s in e.tensor_proto.string_val]] for e in ea.Tensors(tag)]
for tag in tags["histograms"]:
    res["histograms"][tag] = [[e.step, e.histogram_value.num] for e in ea.Histograms(tag)]
print(json.dumps(res))
`, [path.join(dir, 'logs')]));
  const f32 = (x: number) => Math.fround(x);
  assert.deepEqual(out.scalars['train/loss'], [1, 2, 3, 4, 5].map((s) => [s, f32(1 / s)]));
  assert.deepEqual(out.scalars['train/lr'], [1, 2, 3, 4, 5].map((s) => [s, f32(s * 1e-4)]));
  assert.deepEqual(out.scalars['eval/loss'], [[5, 0.75]]);
  assert.deepEqual(out.scalars['eval/exact_match'], [[5, 0.25]]);
  assert.deepEqual(out.texts['notes/plan'], [[2, ['refine **twice**']]]);
  assert.equal(out.texts['samples/generation'][0][0], 5);
  assert.match(out.texts['samples/generation'][0][1][0], /12\+30=[\s\S]*42/);
  assert.deepEqual(out.histograms['weights/embed'], [[4, 1000]]);
});

test('interop: PyYAML parses the model card front matter into the Hub fields', async (t) => {
  const py = requirePython(['yaml']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = await makeRun();
  const fm = JSON.parse(runPython(py.python, `
import json, re, sys, yaml
text = open(sys.argv[1], encoding="utf-8").read()
m = re.match(r"^\\s*---\\n(.*?)\\n---", text, re.S)  # huggingface_hub's REGEX_YAML_BLOCK
print(json.dumps(yaml.safe_load(m.group(1))))
`, [path.join(dir, 'README.md')]));
  assert.equal(fm.license, 'apache-2.0');
  assert.equal(fm.library_name, 'reclin');
  assert.equal(fm.pipeline_tag, 'text-generation');
  assert.ok(Array.isArray(fm.tags) && fm.tags.includes('reclin'));
  const r = fm['model-index'][0];
  assert.equal(r.name, 'interop');
  assert.equal(r.results[0].task.type, 'text-generation');
  assert.ok(r.results[0].dataset.type && r.results[0].dataset.name);
  assert.deepEqual(r.results[0].metrics.map((m: { name: string; value: number }) => [m.name, m.value]).sort(), [['eval/exact_match', 0.25], ['eval/loss', 0.75]]);
});

test('interop: after a resume, `tensorboard --logdir` lists one run per experiment with one history; superseded events are kept out of sight', async (t) => {
  const py = requirePython(['tensorboard']);
  if ('skip' in py) return t.skip(py.skip);
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-io-tb-'));
  const tr = await ExperimentTracker.create({ name: 'resumed', dir: parent, modelConfig: { m: 1 }, flushIntervalMs: 0 });
  for (let s = 1; s <= 10; s++) {
    tr.logMetrics({ 'train/loss': 10 - s }, s);
    if (s === 5) await tr.saveCheckpoint({ step: 5, model: { w: { dtype: 'F32', shape: [2], data: [1, 2] } } });
  }
  await tr.close('interrupted');
  const again = await ExperimentTracker.resume(tr.dir);
  for (let s = 6; s <= 8; s++) again.logMetrics({ 'train/loss': 100 + s }, s);
  await again.close();
  const kept = fs.readdirSync(path.join(tr.dir, 'superseded', 'logs_segment1'));
  assert.ok(kept.some((f) => f.startsWith('events.out.superseded-events.')) && kept.includes('README.txt'), `superseded events kept: ${kept}`);
  // The multiplexer is what `tensorboard --logdir` uses to find runs (every folder with a "tfevents" file).
  const out = JSON.parse(runPython(py.python, `
import json, sys
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
m = EventMultiplexer(size_guidance={"scalars": 0, "tensors": 0, "histograms": 0, "images": 0, "audio": 0, "compressedHistograms": 0})
m.AddRunsFromDirectory(sys.argv[1])
m.Reload()
from tensorboard.util import tensor_util
print(json.dumps({run: [[e.step, float(tensor_util.make_ndarray(e.tensor_proto))] for e in m.Tensors(run, "train/loss")] for run in sorted(m.Runs())}))
`, [parent]));
  assert.deepEqual(Object.keys(out), [path.join('resumed', 'logs')], 'one run, not one per segment');
  assert.deepEqual(out[path.join('resumed', 'logs')], [[1, 9], [2, 8], [3, 7], [4, 6], [5, 5], [6, 106], [7, 107], [8, 108]]);
});
