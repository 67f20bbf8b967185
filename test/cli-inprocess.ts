// Runs the reclin CLI inside the test process (main() from src/cli/main.ts), for tables of inputs that must be
// refused: a child process per case costs seconds, a call costs milliseconds. stdout and stderr are captured;
// the working directory and environment are set for the call and restored after it.
import { main } from '../src/cli/main';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cliInProcess(args: string[], opts: { cwd: string; env?: Record<string, string | undefined> }): Promise<InProcessResult> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const cwd = process.cwd();
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out.stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  process.chdir(opts.cwd);
  const exitCode = process.exitCode;
  try {
    const code = await main(['node', 'reclin', ...args]);
    return { code, ...out };
  } finally {
    process.exitCode = exitCode;
    process.chdir(cwd);
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
