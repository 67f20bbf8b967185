// Real interop for a whole tracker run: the Python `safetensors` package loads every tensor of every
// checkpoint with the right dtype, shape and values; TensorBoard's own EventAccumulator reads back every
// scalar, text and histogram with the right steps and values; PyYAML parses the model card's front matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker, listCheckpoints } from '../src/experiment';
import { randn, requirePython, runPython } from './helpers';

type Written = Record<string, { dtype: string; shape: number[]; data: ArrayLike<number> }>;
/** What each checkpoint file was given, keyed by "step_N/model" or "step_N/optimizer": the interop test compares with this. */
const written = new Map<string, Written>();

async function makeRun(): Promise<string> {
  const tr = await ExperimentTracker.create({ name: 'interop', dir: fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-io-')), modelConfig: { hidden_size: 3 }, flushIntervalMs: 0, runConfig: { checkpoint: { keep_last: null } }, description: 'interop: "quoted" text' });
  for (let s = 1; s <= 5; s++) tr.logMetrics({ 'train/loss': 1 / s, 'train/lr': s * 1e-4 }, s);
  tr.logMetrics({ 'eval/loss': 0.75, 'eval/exact_match': 0.25 }, 5);
  tr.logText('notes/plan', 'refine **twice**', 2);
  tr.logGenerationSample('12+30=', '42', 5, { exact_match: 1 });
  tr.logHistogram('weights/embed', randn(1000, 3), 4);
  for (const step of [3, 5]) {
    const model: Written = {
      'model.embed_tokens.weight': { dtype: 'F32', shape: [4, 3], data: randn(12, step) },
      'model.layers.0.self_attn.q_proj.weight': { dtype: 'BF16', shape: [3, 3], data: randn(9, step + 100) },
      'model.position_ids': { dtype: 'I32', shape: [2, 2], data: Int32Array.from([0, 1, 2, step]) },
    };
    const optimizer: Written = { 'model.embed_tokens.weight.exp_avg': { dtype: 'F32', shape: [4, 3], data: randn(12, step + 7) }, 'step': { dtype: 'I32', shape: [], data: Int32Array.from([step]) } };
    written.set(`step_${step}/model`, model);
    written.set(`step_${step}/optimizer`, optimizer);
    await tr.saveCheckpoint({ step, model: model as never, optimizer: optimizer as never, metrics: { 'eval/loss': 1 / step } });
  }
  await tr.close();
  return tr.dir;
}

test('interop: the Python safetensors package (through torch) reads every checkpoint tensor as written: dtype, shape, values, bf16 rounded as torch rounds', async (t) => {
  const py = requirePython(['safetensors', 'torch']);
  if ('skip' in py) return t.skip(py.skip);
  const dir = await makeRun();
  const cks = listCheckpoints(dir);
  assert.equal(cks.length, 2);
  // file -> the tensors handed to saveCheckpoint, as plain JSON for Python
  const expected: Record<string, Record<string, { dtype: string; shape: number[]; values: number[] }>> = {};
  for (const c of cks) {
    for (const part of ['model', 'optimizer'] as const) {
      const file = part === 'model' ? path.join(c.dir, 'model', 'model.safetensors') : path.join(c.dir, 'optimizer.safetensors');
      const w = written.get(`step_${c.step}/${part}`)!;
      expected[file] = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, values: Array.from(v.data) }]));
    }
  }
  const specFile = path.join(dir, 'expected.json');
  fs.writeFileSync(specFile, JSON.stringify(expected));
  const out = JSON.parse(runPython(py.python, `
import json, sys, torch
from safetensors import safe_open
DT = {"F32": torch.float32, "BF16": torch.bfloat16, "I32": torch.int32}
expected = json.load(open(sys.argv[1]))
problems = []
for path, tensors in expected.items():
    with safe_open(path, framework="pt") as f:
        if f.metadata() != {"format": "pt"}: problems.append(f"{path}: metadata {f.metadata()}")
        if sorted(f.keys()) != sorted(tensors): problems.append(f"{path}: keys {sorted(f.keys())}")
        for name, want in tensors.items():
            got = f.get_tensor(name)
            if got.dtype != DT[want["dtype"]]: problems.append(f"{name}: dtype {got.dtype}")
            if list(got.shape) != want["shape"]: problems.append(f"{name}: shape {list(got.shape)}")
            # the written float32 (or int) values, converted to the stored dtype by torch itself
            src = torch.tensor(want["values"], dtype=torch.float64 if want["dtype"] != "I32" else torch.int64)
            ref = src.to(torch.float32).to(DT[want["dtype"]]).reshape(want["shape"])
            if not torch.equal(got, ref): problems.append(f"{path} {name}: values differ from what was written")
print(json.dumps(problems))
`, [specFile]));
  assert.deepEqual(out, []);
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
