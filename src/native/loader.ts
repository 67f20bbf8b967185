// Finds and loads the native addon, once, on first use (so config/tracking code never needs it).
// Order: RECLIN_ADDON (an explicit path), a local build (build/Release), then prebuilds/<platform>-<arch>/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RawBinding } from './binding';

export interface LoadedAddon {
  binding: RawBinding;
  path: string;
  reason: string;
}

let loaded: LoadedAddon | undefined;

export function packageRoot(): string {
  // src/native/loader.ts and dist/native/loader.js both sit two levels below the package root.
  return path.resolve(__dirname, '..', '..');
}

export function candidateAddonPaths(): { path: string; reason: string }[] {
  const root = packageRoot();
  const out: { path: string; reason: string }[] = [];
  if (process.env.RECLIN_ADDON) out.push({ path: path.resolve(process.env.RECLIN_ADDON), reason: 'RECLIN_ADDON' });
  out.push({ path: path.join(root, 'build', 'Release', 'reclin.node'), reason: 'local build' });
  out.push({ path: path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'reclin-cpu.node'), reason: 'prebuilt CPU binary' });
  return out;
}

export function loadAddon(): LoadedAddon {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const c of candidateAddonPaths()) {
    if (!fs.existsSync(c.path)) {
      tried.push(`${c.path} (missing)`);
      continue;
    }
    try {
      const binding = require(c.path) as RawBinding;
      loaded = { binding, path: c.path, reason: c.reason };
      return loaded;
    } catch (e) {
      tried.push(`${c.path} (${(e as Error).message})`);
    }
  }
  throw new Error(
    `reclin: no native addon could be loaded. Tried:\n  ${tried.join('\n  ')}\n` +
      'Build it with `npm run build:native` (needs a C++17 compiler and cmake >= 3.24).',
  );
}

export function native(): RawBinding {
  return loadAddon().binding;
}

/** A raw op by its exported name, with a clear error if this binary lacks it. */
export function op<F extends (...args: any[]) => any>(name: string): F {
  const fn = native()[name];
  if (typeof fn !== 'function') throw new Error(`reclin: the loaded addon (${loadAddon().path}) has no op '${name}'; rebuild with npm run build:native`);
  return fn as F;
}
