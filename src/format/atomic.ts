// Crash-safe file writes: every persisted file goes to a temporary name in the same folder, is fsynced,
// then renamed over the target (rename is atomic on POSIX), and the folder is fsynced so the rename itself
// survives a power cut. A reader therefore sees either the old complete file or the new complete file.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

let tmpCounter = 0;

/** A temporary name beside `target` that no other writer (process or call) can collide with. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}-${(tmpCounter++).toString(36)}`);
}

/** fsync a directory so a rename/creation inside it is durable. Some filesystems refuse; that is not fatal. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // e.g. EISDIR/EINVAL on filesystems without directory fsync: the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `data` to `target` atomically; returns the sha256 (hex) of what was written. */
export function writeFileAtomic(target: string, data: string | Uint8Array): string {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, 'wx');
  try {
    let off = 0;
    while (off < buf.byteLength) off += fs.writeSync(fd, buf, off, buf.byteLength - off);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(target));
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** JSON with two-space indentation and a trailing newline, written atomically. Returns its sha256. */
export function writeJsonAtomic(target: string, value: unknown): string {
  return writeFileAtomic(target, toJson(value, target));
}

/** JSON.stringify with a clear error (BigInt, cycles) naming the file it was meant for. */
export function toJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value, null, 2) + '\n';
  } catch (e) {
    throw new TypeError(`${what}: value is not JSON-serialisable (${(e as Error).message})`);
  }
}

/** Reads and parses a JSON file, or returns undefined when it does not exist. Throws on malformed JSON. */
export function readJsonIfExists<T = unknown>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}

/** sha256 (hex) of a file, streamed in 4 MiB pieces so large weight files need no big buffer. */
export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
