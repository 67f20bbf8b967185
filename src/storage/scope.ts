// Memory scopes: `scope(fn)` disposes every tensor created while fn runs, except the ones fn returns
// (anywhere inside its result: a Tensor, a Var, arrays, plain objects, Maps) and the ones passed to
// `keep()`. Returned tensors move to the enclosing scope, so nested scopes compose. A training step
// wrapped in scope() therefore frees all activations, saved tensors and intermediate gradients it made,
// while parameter gradients (kept by the autograd engine) and optimizer state (kept by its owner) survive.
//
// Tensors created outside any scope are not tracked (the caller owns them, as before).

/** What a scope needs from a tensor: both Tensor and anything wrapping one expose these. */
export interface Disposable {
  readonly disposed: boolean;
  dispose(): void;
}

const stack: Disposable[][] = [];
const kept = new WeakSet<Disposable>();

/** Called by the Tensor constructor: registers a new tensor with the innermost scope. */
export function trackTensor(t: Disposable): void {
  if (stack.length > 0) stack[stack.length - 1].push(t);
}

/** Exempts a tensor from every scope, now and later: its owner disposes it. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  return t;
}

/** Undoes keep(): the tensor is again disposed by the scope it is next returned from or created in. */
export function unkeep<T extends Disposable>(t: T): T {
  kept.delete(t);
  return t;
}

export function isKept(t: Disposable): boolean {
  return kept.has(t);
}

/** How many scopes are open (0 outside any scope). */
export function scopeDepth(): number {
  return stack.length;
}

// Objects that carry tensors: Tensor (has `handle`), Var (has `scopeTensors()`), containers. Found by duck typing so
// this file needs no import of the classes (they import it).
function collect(x: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  const o = x as Record<string, unknown>;
  if ('handle' in o && typeof o.dispose === 'function') {
    out.add(o as unknown as Disposable);
    return;
  }
  // A Var (or anything else holding tensors plus a graph) lists its own tensors, so the walk does not
  // follow the autograd graph into saved activations.
  if (typeof o.scopeTensors === 'function') {
    for (const t of (o.scopeTensors as () => unknown[])()) collect(t, out, seen);
    return;
  }
  if (Array.isArray(x)) {
    for (const e of x) collect(e, out, seen);
    return;
  }
  if (x instanceof Map) {
    for (const [k, v] of x) {
      collect(k, out, seen);
      collect(v, out, seen);
    }
    return;
  }
  if (ArrayBuffer.isView(x)) return;
  for (const k of Object.keys(o)) collect(o[k], out, seen);
}

/**
 * Runs fn and disposes every tensor it created that is neither returned nor kept. fn must be synchronous
 * (native ops are): a Promise result is rejected because its tensors would be freed under it.
 */
export function scope<T>(fn: () => T): T {
  const mine: Disposable[] = [];
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    release(mine, new Set());
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    release(mine, new Set());
    throw new TypeError('scope: fn returned a Promise; scopes only work with synchronous functions');
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors, new Set());
  release(mine, survivors);
  // Survivors created in this scope now belong to the enclosing one.
  if (stack.length > 0) {
    const parent = stack[stack.length - 1];
    for (const t of mine) if (survivors.has(t) && !kept.has(t)) parent.push(t);
  }
  return result;
}

function release(list: Disposable[], survivors: Set<Disposable>): void {
  for (const t of list) {
    if (survivors.has(t) || kept.has(t) || t.disposed) continue;
    t.dispose();
  }
}
