// What produced a run: git state (commit, branch, dirty flag, a hash of the uncommitted diff and the diff
// itself), the exact command line, host, OS, Node, the native addon and CUDA/driver/GPU when present.
// Capturing never throws: a missing git, addon or nvidia-smi is recorded as absent, not a failure.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface GitInfo {
  repo_root: string;
  commit: string;
  branch: string | null;
  dirty: boolean;
  /** sha256 of `git diff HEAD --binary` (tracked changes, staged or not); null when clean. */
  diff_sha256: string | null;
  /** Untracked files (not ignored) at start; their content is not in the diff. */
  untracked: string[];
}

export interface HostInfo {
  hostname: string;
  os: string;
  platform: string;
  arch: string;
  cpu_model: string;
  cpu_count: number;
  memory_gb: number;
  user: string | null;
}

export interface RuntimeInfo {
  node: string;
  reclin: string | null;
  /** threads: the addon's thread count at start; CPU results are bit-identical only for the same count. */
  addon: { path: string; reason: string; cuda: boolean; openmp: boolean; compiler: string; threads: number | null } | null;
  addon_error: string | null;
  cuda: { driver: string | null; cuda_version: string | null; gpus: { name: string; memory_mb: number | null; compute_capability: string | null }[] } | null;
}

export interface CommandInfo {
  /** The process's arguments exactly as given (absolute paths included). */
  argv: string[];
  /**
   * The command as one shell-quoted line a reader can run from `cwd`: `reclin ...` when it was found on PATH,
   * `npx reclin ...` when it runs from an installed package (never the npx cache's path), `node bin/reclin.js`
   * (relative to cwd where possible) from a clone; any other script as `node <script>`, relative where possible.
   */
  line: string;
  cwd: string;
}

function run(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 10_000, maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    return r.status === 0 ? r.stdout : undefined;
  } catch {
    return undefined;
  }
}

/** Git state of the repository containing `cwd` (null outside a repository or without git), plus the diff text. */
export function captureGit(cwd: string): { info: GitInfo | null; diff: string } {
  const root = run('git', ['rev-parse', '--show-toplevel'], cwd)?.trim();
  if (!root) return { info: null, diff: '' };
  const commit = run('git', ['rev-parse', 'HEAD'], root)?.trim();
  if (!commit) return { info: null, diff: '' };
  const branchRaw = run('git', ['rev-parse', '--abbrev-ref', 'HEAD'], root)?.trim();
  const diff = run('git', ['diff', 'HEAD', '--binary'], root) ?? '';
  const untracked = (run('git', ['ls-files', '--others', '--exclude-standard'], root) ?? '').split('\n').filter(Boolean);
  return {
    info: {
      repo_root: root,
      commit,
      branch: branchRaw && branchRaw !== 'HEAD' ? branchRaw : null,
      dirty: diff.length > 0 || untracked.length > 0,
      diff_sha256: diff.length > 0 ? crypto.createHash('sha256').update(diff).digest('hex') : null,
      untracked,
    },
    diff,
  };
}

export function captureHost(): HostInfo {
  let user: string | null = null;
  try {
    user = os.userInfo().username;
  } catch {
    user = null;
  }
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    platform: process.platform,
    arch: process.arch,
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    cpu_count: cpus.length,
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    user,
  };
}

function reclinVersion(): string | null {
  try {
    // src/experiment and dist/experiment both sit two levels below the package root.
    return (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function captureCuda(): RuntimeInfo['cuda'] {
  const q = run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,compute_cap', '--format=csv,noheader,nounits']);
  if (!q) return null;
  const rows = q.trim().split('\n').filter(Boolean).map((l) => l.split(',').map((s) => s.trim()));
  const header = run('nvidia-smi', []) ?? '';
  const cv = /CUDA Version:\s*([0-9.]+)/.exec(header);
  return {
    driver: rows[0]?.[1] ?? null,
    cuda_version: cv ? cv[1] : null,
    gpus: rows.map((r) => ({ name: r[0], memory_mb: Number.isFinite(Number(r[2])) ? Number(r[2]) : null, compute_capability: r[3] ?? null })),
  };
}

export function captureRuntime(): RuntimeInfo {
  let addon: RuntimeInfo['addon'] = null;
  let addonError: string | null = null;
  try {
    // Loaded lazily: tracking must work (and say so) on machines where the addon is not built.
    const { loadAddon } = require('../native/loader') as typeof import('../native/loader');
    const a = loadAddon();
    const b = typeof a.binding.buildInfo === 'function' ? a.binding.buildInfo() : { cuda: false, openmp: false, compiler: 'unknown' };
    const threads = typeof a.binding.getNumThreads === 'function' ? a.binding.getNumThreads() : null;
    addon = { path: a.path, reason: a.reason, cuda: !!b.cuda, openmp: !!b.openmp, compiler: String(b.compiler), threads };
  } catch (e) {
    addonError = (e as Error).message.split('\n')[0];
  }
  return { node: process.version, reclin: reclinVersion(), addon, addon_error: addonError, cuda: captureCuda() };
}

const ENV_ALLOW = /^(RECLIN_[A-Z0-9_]+|OMP_[A-Z_]+|CUDA_VISIBLE_DEVICES|CUDA_LAUNCH_BLOCKING|NODE_OPTIONS|UV_THREADPOOL_SIZE|HF_ENDPOINT|CI)$/;
const ENV_SECRET = /TOKEN|KEY|SECRET|PASS|CREDENTIAL|AUTH/i;

/** Environment variables that change what a run computes (an allow-list; never tokens or keys). */
export function captureEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) if (ENV_ALLOW.test(k) && !ENV_SECRET.test(k) && env[k] !== undefined) out[k] = withoutUserinfo(env[k]!);
  return out;
}

/** A URL such as HF_ENDPOINT may carry credentials (https://user:secret@host): they are dropped before recording. */
export function withoutUserinfo(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const u = new URL(value);
    if (!u.username && !u.password) return value;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    // Not parseable as a URL, but shaped like one: cut anything before an '@' in the authority.
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
  }
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

// reclin's package root: src/experiment and dist/experiment both sit two levels below it.
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const ENTRY_POINTS = [path.join('bin', 'reclin.js'), path.join('dist', 'cli', 'main.js'), path.join('src', 'cli', 'main.ts')];

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** argv as a reader would type it (see CommandInfo.line). */
export function readableArgv(argv: string[], cwd: string = process.cwd()): string[] {
  if (argv.length < 2 || realpath(argv[0]) !== realpath(process.execPath)) return [...argv];
  const script = realpath(path.resolve(cwd, argv[1]));
  const root = realpath(PACKAGE_ROOT);
  const relToCwd = (p: string) => {
    const rel = path.relative(realpath(cwd), p);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
  };
  if (!ENTRY_POINTS.some((e) => script === path.join(root, e))) return ['node', relToCwd(script), ...argv.slice(2)];
  const given = path.resolve(cwd, argv[1]);
  const inNodeModules = (p: string) => p.split(path.sep).includes('node_modules');
  // `reclin` found on PATH (npm install -g, npm link): the same word runs it again.
  if (path.basename(given) === 'reclin' && !inNodeModules(given)) return ['reclin', ...argv.slice(2)];
  // An installed package (a project's dependency, a global install, the npx cache): npx finds it, or fetches it.
  if (inNodeModules(given) || inNodeModules(script)) return ['npx', 'reclin', ...argv.slice(2)];
  // A clone of the repository: its launcher.
  return ['node', relToCwd(path.join(root, 'bin', 'reclin.js')), ...argv.slice(2)];
}

export function captureCommand(argv: string[] = process.argv): CommandInfo {
  const cwd = process.cwd();
  return { argv: [...argv], line: readableArgv(argv, cwd).map(shellQuote).join(' '), cwd };
}
