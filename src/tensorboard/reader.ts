// Reads event files back (for our compare tools and tests). Every record's CRCs are checked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeEvent, type TBEvent } from './event';
import { scanRecords } from './record';

/** Events in file order; `truncated` lists files whose last record was cut short (a writer crashed mid-append). */
export type TBEvents = TBEvent[] & { truncated: { file: string; offset: number }[] };

/**
 * The event files of a directory (basename contains "tfevents", as TensorBoard requires), in name order
 * with digit runs compared as numbers, so writer counter 10 comes after 9 (plain sorting would not).
 */
export function eventFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.includes('tfevents'))
    .map((d) => d.name)
    .sort(naturalCompare)
    .map((name) => path.join(dir, name));
}

function naturalCompare(a: string, b: string): number {
  const xs = a.match(/\d+|\D+/g) ?? [];
  const ys = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const u = x.replace(/^0+/, '');
      const v = y.replace(/^0+/, '');
      if (u.length !== v.length) return u.length - v.length;
      if (u !== v) return u < v ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return xs.length - ys.length;
}

/**
 * Every event of one file, or of all event files in a directory (in name order, which is creation order
 * for files from one host). Throws CorruptRecordError (naming file and offset) on a CRC mismatch; an
 * incomplete last record is skipped and listed in the result's `truncated`.
 */
export function readEvents(pathOrDir: string): TBEvents {
  let st: fs.Stats;
  try {
    st = fs.statSync(pathOrDir);
  } catch (e) {
    throw new Error(`readEvents: cannot read ${JSON.stringify(pathOrDir)}: ${(e as Error).message}`, { cause: e });
  }
  const files = st.isDirectory() ? eventFiles(pathOrDir) : [pathOrDir];
  const out = [] as unknown as TBEvents;
  out.truncated = [];
  for (const file of files) {
    const { records, truncatedAt } = scanRecords(fs.readFileSync(file), file);
    for (const rec of records) out.push(decodeEvent(rec));
    if (truncatedAt !== undefined) out.truncated.push({ file, offset: truncatedAt });
  }
  return out;
}

/** The scalars of a directory's event files, by tag, in file order. */
export function readScalars(dir: string): Record<string, { step: number; value: number; wallTime: number }[]> {
  const out: Record<string, { step: number; value: number; wallTime: number }[]> = {};
  for (const ev of readEvents(dir)) {
    for (const s of ev.scalars ?? []) (out[s.tag] ??= []).push({ step: ev.step, value: s.value, wallTime: ev.wallTime });
  }
  return out;
}
