// reclin run --tokenizer end to end on a micro model: the tokenizer (path, file hashes, roles) is recorded in
// run_config.json and the metadata, a phase started from the base experiment inherits it, reproduce refuses a
// tokenizer file that changed, and a tokenizer too large for the model or lacking the sidecar's mask token is
// refused before anything is written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inheritedTokenizer } from '../src/cli/run-setup';
import { runCli, repoRoot } from './cli-helpers';

let tmp: string;
const exp = () => path.join(tmp, 'experiments');
const sha256 = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const FAST = ['--run-config', 'fast.json', '--model-config', 'micro.json', '--batch-size', '2'];

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-tok-'));
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  // No special ids declared: they follow the run's tokenizer (micro_ids.json keeps tiny's byte ids, to be refused).
  const { pad_token_id: _p, bos_token_id: _b, eos_token_id: _e, mask_token_id: _m, ...noIds } = tiny;
  const micro = { ...noIds, vocab_size: 520, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16 };
  micro.linear_attn_config = { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] };
  fs.writeFileSync(path.join(tmp, 'micro.json'), JSON.stringify(micro));
  fs.writeFileSync(path.join(tmp, 'micro_ids.json'), JSON.stringify({ ...micro, pad_token_id: 256, bos_token_id: 259, eos_token_id: [258, 1], mask_token_id: 300 }));
  // A chat config: eos is another special token of the tokenizer (an end-of-turn token), kept with a note.
  fs.writeFileSync(path.join(tmp, 'micro_chat.json'), JSON.stringify({ ...micro, eos_token_id: 260 }));
  fs.writeFileSync(path.join(tmp, 'fast.json'), JSON.stringify({ data: { eval_examples: 2 }, schedule: { warmup_steps: 1 } }));
  // A tiktoken-format tokenizer: the 256 bytes and two merges (ids 0..257), then 256 specials (258..513), no mask.
  const dir = path.join(tmp, 'tok');
  fs.mkdirSync(dir);
  const ranks = [...Array.from({ length: 256 }, (_, b) => Buffer.from([b])), Buffer.from('00'), Buffer.from('+0')];
  fs.writeFileSync(path.join(dir, 'tiktoken.model'), ranks.map((r, i) => `${r.toString('base64')} ${i}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ added_tokens_decoder: { '258': { content: '[BOS]' }, '259': { content: '[EOS]' } }, bos_token: '[BOS]', eos_token: '[EOS]' }));
  fs.cpSync(path.join(repoRoot, 'configs'), path.join(tmp, 'configs'), { recursive: true });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, { cwd: tmp });
const runConfigOf = (name: string) => JSON.parse(fs.readFileSync(path.join(exp(), name, 'run_config.json'), 'utf8'));

test('a run records its tokenizer; a phase from it inherits it; refusals write nothing; reproduce refuses a changed tokenizer', async () => {
  const tokDir = path.join(tmp, 'tok');
  const base = await cli(['run', '--experiment-name', 'base', ...FAST, '--tokenizer', 'tok', '--num-steps', '2', '--save-interval', '2', '--data', 'synthetic:addition:2']);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const rc = runConfigOf('base');
  assert.deepEqual(rc.tokenizer, { path: tokDir, files: { 'tiktoken.model': sha256(path.join(tokDir, 'tiktoken.model')), 'tokenizer_config.json': sha256(path.join(tokDir, 'tokenizer_config.json')) }, special: {} });
  const meta = JSON.parse(fs.readFileSync(path.join(exp(), 'base', 'experiment_metadata.json'), 'utf8'));
  assert.equal(meta.extra.tokenizer.kind, 'tiktoken');
  assert.equal(meta.extra.tokenizer.vocab_size, 514);
  assert.deepEqual(meta.extra.tokenizer.special.eos, { id: 259, token: '[EOS]' });
  // The checkpoint's model/ carries the tokenizer files byte for byte, as a Hub checkpoint ships them.
  const baseModel = path.join(exp(), 'base', 'checkpoints', 'step_000002', 'model');
  for (const f of ['tiktoken.model', 'tokenizer_config.json']) assert.equal(sha256(path.join(baseModel, f)), rc.tokenizer.files[f], `${f} in the checkpoint`);

  // Refused before anything is written: the model's vocabulary is smaller than the tokenizer's; phase a needs a mask.
  const refusals = await Promise.all([
    cli(['run', '--experiment-name', 'too_small', '--run-config', 'fast.json', '--tokenizer', 'tok', '--num-steps', '1']),
    cli(['run', '--experiment-name', 'no_mask', ...FAST.slice(0, 2), '--model-path', 'experiments/base', '--phase', 'a', '--recursive-config', 'configs/recursive_phase_a.json', '--num-steps', '1']),
    cli(['run', '--experiment-name', 'bad_role', ...FAST, '--tokenizer', 'tok', '--tokenizer-special', 'mask=nope', '--num-steps', '1']),
    cli(['run', '--experiment-name', 'bad_ids', '--run-config', 'fast.json', '--model-config', 'micro_ids.json', '--batch-size', '2', '--tokenizer', 'tok', '--num-steps', '1']),
  ]);
  assert.match(refusals[0].stderr, /--tokenizer: .*tok produces ids up to 513, but the model's vocab_size is 264/);
  assert.match(refusals[1].stderr, /--tokenizer: .*tok has no mask token, and phase a's sidecar replaces corrupted draft positions with it; name one with tokenizer\.special\.mask/);
  assert.match(refusals[2].stderr, /tokenizer\.special\.mask: .* has no token "nope"/);
  // The config's declared special ids against the tokenizer's (bos 258, eos 259, pad = eos): each mismatch named
  // with both values; the mask is not compared (the tokenizer has none), nor are undeclared ids.
  assert.match(refusals[3].stderr, /--model-config .*micro_ids\.json: bos_token_id is 259, but .*tok's bos id is 258 \("\[BOS\]"\); make them agree: name the tokenizer's bos with --tokenizer-special bos=\[EOS\] \(id 259's token\), or change bos_token_id in the config/);
  assert.match(refusals[3].stderr, /; eos_token_id is \[258,1\], but .*tok's eos id is 259 \("\[EOS\]"\)/);
  assert.match(refusals[3].stderr, /; pad_token_id is 256, but .*tok's pad id is 259 \("\[EOS\]"\); make them agree: name the tokenizer's pad with --tokenizer-special pad=TOKEN, or change pad_token_id/);
  assert.doesNotMatch(refusals[3].stderr, /mask_token_id/);
  for (const r of refusals) assert.equal(r.code, 1, r.stderr);
  for (const name of ['too_small', 'no_mask', 'bad_role', 'bad_ids']) assert.ok(!fs.existsSync(path.join(exp(), name)), `${name} wrote nothing`);

  // Phase a from the base experiment inherits its tokenizer, with a reserved special named as the mask.
  const a = await cli(['run', '--experiment-name', 'phase_a', ...FAST.slice(0, 2), '--batch-size', '2', '--model-path', 'experiments/base', '--phase', 'a', '--recursive-config', 'configs/recursive_phase_a.json', '--tokenizer-special', 'mask=<|reserved_token_300|>', '--num-steps', '1']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.deepEqual(runConfigOf('phase_a').tokenizer, { ...rc.tokenizer, special: { mask: '<|reserved_token_300|>' } });
  // Its checkpoints' tokenizer_config.json names the mask it used, so the directory alone rebuilds the same roles.
  const aModel = path.join(exp(), 'phase_a', 'checkpoints', 'step_000001', 'model');
  assert.equal(JSON.parse(fs.readFileSync(path.join(aModel, 'tokenizer_config.json'), 'utf8')).mask_token, '<|reserved_token_300|>');
  const { loadTokenizer } = await import('../src/tokenizer');
  assert.equal(loadTokenizer(aModel).maskId, 300);

  // The tokenizer file changes: reproducing the base run is refused, naming the file and both hashes.
  fs.appendFileSync(path.join(tokDir, 'tokenizer_config.json'), '\n');
  const rep = await cli(['reproduce', 'experiments/base']);
  assert.equal(rep.code, 1, rep.stdout + rep.stderr);
  assert.match(rep.stderr, /tokenizer_config\.json in .* has sha256 [0-9a-f]{64}, but the run recorded sha256 [0-9a-f]{64}; the tokenizer changed/);
  assert.ok(!fs.existsSync(path.join(exp(), 'base_reproduce')), 'the refused reproduction wrote nothing');
});

test('without --tokenizer, a run inherits the base experiment\'s tokenizer or a model directory\'s tokenizer files, else bytes', () => {
  const modelDir = path.join(tmp, 'hub_model');
  fs.mkdirSync(modelDir, { recursive: true });
  assert.equal(inheritedTokenizer(modelDir), null, 'no tokenizer files: bytes');
  fs.copyFileSync(path.join(tmp, 'tok', 'tiktoken.model'), path.join(modelDir, 'tiktoken.model'));
  assert.deepEqual(inheritedTokenizer(modelDir), { path: modelDir, files: null, special: {} });
  assert.equal(inheritedTokenizer(null), null);
});

test("a config's eos that is another special token of the tokenizer (an end-of-turn token) is kept, with a note", async () => {
  const r = await cli(['run', '--experiment-name', 'chat_eos', '--run-config', 'fast.json', '--model-config', 'micro_chat.json', '--batch-size', '2', '--tokenizer', 'tok', '--num-steps', '1', '--save-interval', '1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /eos_token_id 260 \(.*\) is kept from the config; the data's eos is .*tok's 259 \("\[EOS\]"\)/);
  const saved = JSON.parse(fs.readFileSync(path.join(exp(), 'chat_eos', 'checkpoints', 'step_000001', 'model', 'config.json'), 'utf8'));
  assert.equal(saved.eos_token_id, 260);
  assert.equal(saved.bos_token_id, 258, 'undeclared ids still follow the tokenizer');
});
