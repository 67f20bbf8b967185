// reclin doctor: what this machine offers and what reclin chose — the native addon (path, why, build info, the
// kernel variants it runs and its thread policy, all as the addon itself reports them), the CPU, and the GPUs
// nvidia-smi sees.
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBinaries, loadAddon, type CpuFeatures, type CudaProbe, type ThreadInfo } from '../native';

export interface DoctorReport {
  reclin: string;
  node: string;
  platform: string;
  addon: {
    loaded: boolean;
    path?: string;
    reason?: string;
    error?: string;
    build?: unknown;
    /** The team the next op uses, its upper bound, and whether it follows the free cores (native/threads.h). */
    threads?: ThreadInfo;
    /** The kernel variant each family runs on this CPU, as the addon dispatched it. */
    kernels?: { gemm: string; kda: string; vec: string; adamw: string };
    /** The SIMD features the addon's dispatch saw. */
    cpuFeatures?: CpuFeatures;
    /** What the CUDA binary's probe saw (only when a CUDA binary is installed). */
    cudaProbe?: CudaProbe;
    /** Installed binaries, in order of preference within their kind. */
    candidates: { path: string; kind: string; archs: string[]; origin: string }[];
  };
  cpu: { model: string; logicalCores: number };
  gpus: { available: boolean; detail: string; devices: { name: string; computeCapability: string; driver: string; memory: string }[] };
}

function cpuInfo(): DoctorReport['cpu'] {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    /* not Linux: os.cpus() has it */
  }
  return { model, logicalCores: os.cpus().length };
}

function findOnPath(exe: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, exe);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function gpuInfo(): DoctorReport['gpus'] {
  const smi = findOnPath('nvidia-smi');
  if (!smi) return { available: false, detail: 'nvidia-smi not found on PATH', devices: [] };
  const r = spawnSync(smi, ['--query-gpu=name,compute_cap,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) return { available: false, detail: `nvidia-smi failed: ${(r.stderr || r.error?.message || '').trim()}`, devices: [] };
  const devices = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, computeCapability, driver, memory] = l.split(',').map((s) => s.trim());
      return { name, computeCapability, driver, memory };
    });
  return { available: devices.length > 0, detail: `${smi}`, devices };
}

export function doctorReport(): DoctorReport {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8'));
  const addon: DoctorReport['addon'] = { loaded: false, candidates: [] };
  try {
    addon.candidates = findBinaries();
    const a = loadAddon();
    const b = a.binding;
    const kernels = { gemm: b.gemmKernel(), kda: b.kdaIsa(), vec: b.vecKernel(), adamw: b.adamwUseKernel() };
    Object.assign(addon, { loaded: true, path: a.path, reason: a.reason, build: b.buildInfo(), threads: b.threadInfo(), kernels, cpuFeatures: b.cpuFeatures(), cudaProbe: a.probe });
  } catch (e) {
    addon.error = (e as Error).message;
  }
  return { reclin: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`, addon, cpu: cpuInfo(), gpus: gpuInfo() };
}

function print(r: DoctorReport): void {
  const out: string[] = [];
  out.push(`reclin ${r.reclin}, Node ${r.node}, ${r.platform}`);
  out.push('addon:');
  if (r.addon.loaded) {
    out.push(`  chosen   ${r.addon.path} (${r.addon.reason})`);
    out.push(`  build    ${JSON.stringify(r.addon.build)}`);
    const t = r.addon.threads!;
    out.push(`  threads  ${t.followsLoad ? `${t.threads} now, following the free cores (at most ${t.maxThreads})` : `${t.threads} (fixed)`}`);
    const k = r.addon.kernels!;
    out.push(`  kernels  gemm ${k.gemm}, kda ${k.kda}, vec ${k.vec}, adamw ${k.adamw}`);
    const f = Object.entries(r.addon.cpuFeatures ?? {}).filter(([, on]) => on).map(([name]) => name);
    out.push(`  SIMD     ${f.join(' ') || 'none'}`);
  } else out.push(`  NOT LOADED: ${r.addon.error}`);
  if (r.addon.cudaProbe) {
    const p = r.addon.cudaProbe;
    out.push(`  cuda     ${p.ok ? `driver ${p.driverVersion}, ${p.devices.map((d) => `${d.name} sm_${d.major}${d.minor}`).join(', ')}` : `unusable: ${p.error}`}`);
  }
  out.push('  installed binaries:');
  if (r.addon.candidates.length === 0) out.push('    none');
  for (const c of r.addon.candidates) out.push(`    ${c.kind.padEnd(4)}  ${c.path} (${c.origin}${c.archs.length ? `; ${c.archs.join(', ')}` : ''})`);
  out.push('cpu:');
  out.push(`  ${r.cpu.model}, ${r.cpu.logicalCores} logical cores`);
  out.push('gpus:');
  if (r.gpus.devices.length === 0) out.push(`  none (${r.gpus.detail})`);
  for (const g of r.gpus.devices) out.push(`  ${g.name}, sm_${g.computeCapability.replace('.', '')}, driver ${g.driver}, ${g.memory}`);
  process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('report the native addon (which binary and why), CPU features and GPUs')
    .option('--json', 'print the report as JSON', false)
    .action((o: { json: boolean }) => {
      const r = doctorReport();
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else print(r);
      if (!r.addon.loaded) process.exitCode = 1;
    });
}
