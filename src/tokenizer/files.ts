// The tokenizer files a model directory carries, so that a checkpoint's model/ is a complete Hub-style model
// directory: reclin (--model-path) and transformers' AutoTokenizer both find the tokenizer there.
//
// The files are the run's own, byte for byte and checked against the sha256 the run config recorded: the
// tokenizer file under its Hub name (tokenizer.json or tiktoken.model), tokenizer_config.json, and beside them
// the Python files its auto_map names (Kimi's tiktoken tokenizer is such code), chat_template.jinja and
// special_tokens_map.json when present. Two cases write tokenizer_config.json
// instead of copying it: roles the run overrides (tokenizer.special) are written into it, so the directory
// names the same special tokens the run used; and a tokenizer without one gets one naming the roles reclin
// found, so transformers knows them too. See docs/TOKENIZERS.md.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer, resolveTokenizerFile } from './load';
import type { RoleOverrides } from './roles';
import { SPECIAL_ROLES } from './tokenizer';

export interface ModelDirFile {
  /** File name inside the model directory. */
  name: string;
  data: Buffer;
}

/** The run config's tokenizer record (run_config.json `tokenizer`). */
export interface TokenizerRecord {
  path: string | null;
  files: Record<string, string> | null;
  special: RoleOverrides;
}

const CONFIG_FILE = 'tokenizer_config.json';

function sha256(buf: Buffer): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Python module files named by tokenizer_config.json's auto_map ("module.Class" -> module.py). */
function autoMapFiles(config: Record<string, unknown>): string[] {
  const map = config.auto_map;
  if (!map || typeof map !== 'object') return [];
  const refs = Object.values(map as Record<string, unknown>).flatMap((v) => (Array.isArray(v) ? v : [v]));
  const mods = refs.filter((r): r is string => typeof r === 'string' && /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/.test(r)).map((r) => `${r.split('.')[0]}.py`);
  return [...new Set(mods)];
}

/**
 * The files that carry `rec`'s tokenizer in a model directory; [] for the byte tokenizer. Every file the run
 * config hashed is checked against its hash, so a tokenizer changed since the run began is refused, naming it.
 */
export function tokenizerModelFiles(rec: TokenizerRecord): ModelDirFile[] {
  if (rec.path === null) return [];
  const tok = loadTokenizer(rec.path, { special: rec.special, expectFiles: rec.files });
  const file = resolveTokenizerFile(rec.path);
  const dir = path.dirname(file);
  const read = (f: string): Buffer => {
    const buf = fs.readFileSync(f);
    const want = rec.files?.[path.basename(f)];
    if (want !== undefined && sha256(buf) !== want) throw new Error(`tokenizer: ${f} has changed since the run recorded sha256 ${want}; the checkpoint cannot carry the run's tokenizer`);
    return buf;
  };
  const out: ModelDirFile[] = [{ name: tok.kind === 'tiktoken' ? 'tiktoken.model' : 'tokenizer.json', data: read(file) }];
  const configPath = path.join(dir, CONFIG_FILE);
  const hasConfig = path.basename(file) !== CONFIG_FILE && fs.existsSync(configPath);
  const configBuf = hasConfig ? read(configPath) : null;
  const config: Record<string, unknown> = configBuf ? JSON.parse(configBuf.toString('utf8')) : {};
  const overridden = Object.keys(rec.special ?? {}).length > 0;
  if (configBuf && !overridden) out.push({ name: CONFIG_FILE, data: configBuf });
  else {
    // The roles as the run resolved them, over the tokenizer's own config (a pad that is really eos is left out).
    const roles = tok.describe().special;
    const written: Record<string, unknown> = { ...config };
    if (!configBuf && tok.kind === 'tokenizer.json') written.tokenizer_class = 'PreTrainedTokenizerFast';
    for (const role of SPECIAL_ROLES) {
      const r = roles[role];
      const fallbackPad = role === 'pad' && r !== null && roles.eos !== null && r.id === roles.eos.id && !(rec.special ?? {}).pad;
      if (r !== null && !fallbackPad && (!configBuf || (rec.special ?? {})[role] !== undefined)) written[`${role}_token`] = r.token;
    }
    out.push({ name: CONFIG_FILE, data: Buffer.from(JSON.stringify(written, null, 2) + '\n') });
  }
  // Companions a Hub tokenizer ships: its code, its chat template, and its special-token map (left out when
  // tokenizer_config.json was rewritten, so that the roles have one source).
  const companions = [...autoMapFiles(config), 'chat_template.jinja', ...(configBuf && !overridden ? ['special_tokens_map.json'] : [])];
  for (const name of companions) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) out.push({ name, data: fs.readFileSync(p) });
  }
  return out;
}
