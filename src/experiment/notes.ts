// Notes and issues of a run: notes/notes.txt and notes/issues.txt for people ("[Step N] time: text"), and
// the `notes` / `issues` lists of experiment_metadata.json for programs.
//
// Any process may add one while the run trains: the metadata has a single writer (the live run rewrites it
// from memory, so a second writer's change would be lost), but both text files and notes/inbox.jsonl are
// only ever appended to, each entry in one write() of whole lines on a file opened with O_APPEND, which a
// local file system never interleaves with another writer's (NFS gives no such promise). The inbox entry carries an id; whoever holds the run (the
// live tracker on its heartbeat and at close, `addNoteToRun` when nobody does, a resume) merges entries whose
// id the metadata lacks. The inbox is never rewritten, so nothing in it can be lost to a race, and readers
// (card, show, summary) merge it too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface NoteEntry {
  step: number | null;
  time: string;
  text: string;
  /** Set on entries added by another process through the inbox (the key that merges each exactly once). */
  id?: string;
}

export type NoteKind = 'notes' | 'issues';

export const INBOX_FILE = path.join('notes', 'inbox.jsonl');

interface InboxLine extends NoteEntry {
  kind: NoteKind;
  id: string;
}

/** Appends `text` in one write to a file opened with O_APPEND, then fsyncs. */
function appendDurably(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+'); // O_APPEND (+ read, for the check below)
  try {
    // A writer killed mid-line leaves a torn tail; start on a fresh line so this entry never fuses with it.
    const size = fs.fstatSync(fd).size;
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    fs.writeSync(fd, lead + text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** notes/notes.txt or notes/issues.txt: one "[Step N] time: text" entry (continuation lines indented). */
export function appendNoteText(dir: string, kind: NoteKind, entry: NoteEntry): void {
  const line = `${entry.step === null ? '' : `[Step ${entry.step}] `}${entry.time}: ${entry.text.replace(/\r?\n/g, '\n    ')}\n`;
  appendDurably(path.join(dir, 'notes', kind === 'notes' ? 'notes.txt' : 'issues.txt'), line);
}

/** Records an entry from a process that does not hold the run: the text file and the inbox. */
export function appendToInbox(dir: string, kind: NoteKind, text: string, step: number | null): NoteEntry {
  const entry: NoteEntry = { step, time: new Date().toISOString(), text, id: randomBytes(8).toString('hex') };
  appendDurably(path.join(dir, INBOX_FILE), `${JSON.stringify({ kind, ...entry })}\n`);
  appendNoteText(dir, kind, entry);
  return entry;
}

/** The complete entries of the inbox and its byte length up to the last complete line. */
export function readInbox(dir: string): { entries: InboxLine[]; size: number } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, INBOX_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], size: 0 };
    throw e;
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const entries: InboxLine[] = [];
  for (const line of complete.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as InboxLine;
      if ((e.kind === 'notes' || e.kind === 'issues') && typeof e.id === 'string' && typeof e.text === 'string') entries.push(e);
    } catch {
      // a line torn by a killed writer: its entry never completed
    }
  }
  return { entries, size: Buffer.byteLength(complete) };
}

/** Adds to `meta` the inbox entries it lacks (in place); returns them with their kind. */
export function mergeInbox(dir: string, meta: { notes: NoteEntry[]; issues: NoteEntry[] }): { kind: NoteKind; entry: NoteEntry }[] {
  const have = new Set([...meta.notes, ...meta.issues].map((e) => e.id).filter(Boolean));
  const added: { kind: NoteKind; entry: NoteEntry }[] = [];
  for (const { kind, ...entry } of readInbox(dir).entries) {
    if (have.has(entry.id)) continue;
    have.add(entry.id);
    meta[kind].push(entry);
    added.push({ kind, entry });
  }
  return added;
}
