// The folder boundaries of src/ (docs/design/architecture.md, "Layout"), checked on the real import graph so
// a shortcut across them fails here instead of growing quietly:
//   - the TypeScript layers stay a line, native -> storage -> ops -> tensor (autograd): no folder cycle among them;
//   - format/ (safetensors, atomic writes) is shared by nn/ and experiment/ and imports neither;
//   - nn/ (the model) never imports experiment/ (the tracker);
//   - no two top folders import each other, directly or around a loop (sweeps live in cli/ as sweep-*.ts: their
//     cells are CLI runs).
// Imports are read with TypeScript's own pre-processor (static, type-only, re-exports and dynamic import()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The files under src/ that `file` imports (relative specifiers only; packages and node: modules are ignored). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), fileName);
    const hit = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
    assert.ok(hit, `${path.relative(SRC, file)}: import '${fileName}' resolves to no file`);
    out.push(hit);
  }
  return out;
}

/** The top folder under src/ a file belongs to ('' for src/index.ts). */
function areaOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length > 1 ? rel[0] : '';
}

interface Edge { from: string; to: string; file: string; target: string }

function folderEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const f of sourceFiles(SRC))
    for (const t of importsOf(f)) {
      const from = areaOf(f);
      const to = areaOf(t);
      if (from !== to) edges.push({ from, to, file: path.relative(SRC, f), target: path.relative(SRC, t) });
    }
  return edges;
}

/** A cycle among `nodes` in the folder graph, as a path a -> b -> ... -> a, or null. */
function findCycle(edges: Pick<Edge, 'from' | 'to'>[], nodes: string[]): string[] | null {
  const within = new Set(nodes);
  const next = new Map<string, Set<string>>();
  for (const e of edges) if (within.has(e.from) && within.has(e.to)) (next.get(e.from) ?? next.set(e.from, new Set()).get(e.from)!).add(e.to);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of nodes) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

function describe(edges: Edge[]): string {
  return edges.map((e) => `  ${e.file} imports ${e.target}`).join('\n');
}

const EDGES = folderEdges();

test('import boundaries: the checker sees the graph and finds a planted cycle', () => {
  // Guards against a checker that passes because it reads nothing.
  assert.ok(EDGES.some((e) => e.from === 'ops' && e.to === 'storage'), 'expected ops/ to import storage/');
  assert.ok(EDGES.some((e) => e.from === 'tensor' && e.to === 'ops'), 'expected tensor/ to import ops/');
  assert.deepEqual(findCycle([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }], ['a', 'b', 'c']), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }], ['a', 'b', 'c']), null);
});

test('import boundaries: native -> storage -> ops -> tensor has no cycle', () => {
  const layers = ['native', 'storage', 'ops', 'tensor'];
  const cycle = findCycle(EDGES, layers);
  assert.equal(cycle, null, `folder cycle ${cycle?.join(' -> ')}:\n${describe(EDGES.filter((e) => cycle?.includes(e.from) && cycle?.includes(e.to)))}`);
  // Each layer imports only the ones below it.
  const below: Record<string, string[]> = { native: [], storage: ['native'], ops: ['native', 'storage'] };
  const bad = EDGES.filter((e) => e.from in below && !below[e.from].includes(e.to));
  assert.equal(bad.length, 0, `a low layer imports a higher one:\n${describe(bad)}`);
});

test('import boundaries: format/ imports neither experiment/ nor nn/', () => {
  const bad = EDGES.filter((e) => e.from === 'format' && !['storage', 'native'].includes(e.to));
  assert.equal(bad.length, 0, `format/ must stay below nn/ and experiment/:\n${describe(bad)}`);
});

test('import boundaries: nn/ does not import experiment/', () => {
  const bad = EDGES.filter((e) => e.from === 'nn' && e.to === 'experiment');
  assert.equal(bad.length, 0, `nn/ reaches into experiment/ (shared file code belongs in format/):\n${describe(bad)}`);
});

test('import boundaries: no cycle between any two top folders of src/', () => {
  const folders = [...new Set(EDGES.flatMap((e) => [e.from, e.to]))].filter((f) => f !== '');
  const cycle = findCycle(EDGES, folders);
  assert.equal(cycle, null, `folder cycle ${cycle?.join(' -> ')}:\n${describe(EDGES.filter((e) => cycle?.includes(e.from) && cycle?.includes(e.to)))}`);
});
