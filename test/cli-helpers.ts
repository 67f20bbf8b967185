// Runs the reclin CLI as a child process, asynchronously so that servers in the test process (the local Hub)
// keep answering while it runs. It runs the built bin/reclin.js when dist/ is up to date with every src/ file
// (as after `npm install` in CI: three times faster to start), else the TypeScript source through tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(__dirname, '..');
const mainTs = path.join(repoRoot, 'src', 'cli', 'main.ts');

function distIsFresh(): boolean {
  const src = path.join(repoRoot, 'src');
  for (const e of fs.readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) continue;
    const file = path.join(e.parentPath, e.name);
    const js = path.join(repoRoot, 'dist', path.relative(src, file)).replace(/\.ts$/, '.js');
    const built = fs.statSync(js, { throwIfNoEntry: false });
    if (!built || built.mtimeMs < fs.statSync(file).mtimeMs) return false;
  }
  return true;
}

/** The node arguments that start the CLI (see the file comment). */
// tsx by absolute URL: a test may run the CLI from a folder outside the repository.
const tsxLoader = pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
export const cliEntry: string[] = distIsFresh() ? [path.join(repoRoot, 'bin', 'reclin.js')] : ['--import', tsxLoader, mainTs];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Starts the CLI; `done` resolves when it exits (killed with SIGKILL after timeoutMs, default 120 s). */
export function startCli(args: string[], opts: CliOptions = {}): { child: ChildProcess; output: () => string; done: Promise<CliResult> } {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [...cliEntry, ...args], { cwd: opts.cwd ?? repoRoot, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, output: () => stdout + stderr, done };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** Polls `cond` every 50 ms until it holds (or throws after timeoutMs). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
