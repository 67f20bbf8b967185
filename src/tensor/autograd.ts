// Reverse-mode automatic differentiation over the native ops.
//
// A Var holds a Tensor (`data`) and, when it was computed by a differentiable function while gradients
// are enabled and some input requires a gradient, the Node that made it. `backward(loss)` walks the graph
// in reverse topological order, calls each Node's backward, and accumulates into `.grad` of every leaf Var
// that requires a gradient (Parameters, or Vars made with requiresGrad). Leaf gradients are kept out of
// memory scopes (they persist across steps and accumulate with ops.addInPlace until zeroGrad); every other
// tensor made during forward and backward belongs to the enclosing scope() and is freed with it.
// Intermediate gradients are freed as soon as they are consumed (reference counted, since pass-through
// functions like add or reshape hand the same tensor to several inputs).
import { ops } from '../ops';
import { keep } from '../storage/scope';
import { type Device, Tensor } from '../storage/tensor';

/** A recorded operation: its inputs and how to map the output's gradient to theirs. */
export interface Node {
  readonly name: string;
  readonly inputs: readonly Var[];
  /**
   * Gradient for each input (null where an input needs none). Must return fresh tensors or `dOut` itself, or,
   * for input i, the tensor `pending(i)` gave after adding this node's gradient into it in place.
   * `pending(i)` is the gradient input i has collected so far when this pass owns it alone (no other Var holds
   * it, no view shares its storage), else null: a backward may accumulate into it instead of allocating.
   */
  backward(dOut: Tensor, pending: (i: number) => Tensor | null): (Tensor | null)[];
}

let gradEnabled = true;

/** Runs fn with gradient recording off: results carry no graph (inference, optimizer updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export class Var {
  data: Tensor;
  /** Leaf Vars: whether backward accumulates into `.grad`. Computed Vars: whether a graph is recorded. */
  requiresGrad: boolean;
  /** The accumulated gradient (leaves only); null until the first backward that reaches this Var. */
  grad: Tensor | null = null;
  /** The operation that produced this Var; null for leaves. */
  readonly node: Node | null;

  constructor(data: Tensor, requiresGrad = false, node: Node | null = null) {
    if (!(data instanceof Tensor)) throw new TypeError(`Var: data must be a Tensor, got ${String(data)}`);
    this.data = data;
    this.requiresGrad = requiresGrad;
    this.node = node;
  }

  get shape(): number[] {
    return this.data.shape;
  }
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The same data without a graph (shares the tensor). */
  detach(): Var {
    return new Var(this.data, false);
  }

  /** Frees the accumulated gradient (the next backward allocates a fresh one). */
  zeroGrad(): void {
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** For scope(): the tensors this Var owns (not the graph behind it). */
  scopeTensors(): Tensor[] {
    return this.grad ? [this.data, this.grad] : [this.data];
  }

  toString(): string {
    return `Var(${this.data.toString()}${this.requiresGrad ? ', requiresGrad' : ''}${this.node ? `, ${this.node.name}` : ''})`;
  }
}


/** The dtype rule of parameters: f32, or bf16 only while frozen and marked bf16Ok (trained weights are f32). */
function checkParameterDtype(what: string, dtype: string, trainable: boolean, bf16Ok: boolean): void {
  if (dtype === 'f32' || (dtype === 'bf16' && !trainable && bf16Ok)) return;
  throw new TypeError(`${what}: dtype ${dtype} is only allowed as bf16 for a frozen parameter marked bf16Ok (this one is ${trainable ? 'trainable' : bf16Ok ? 'frozen' : 'not bf16Ok'}); trained parameters are f32`);
}

/**
 * A trainable (or frozen) model weight. Frozen parameters (requiresGrad = false) take part in the forward
 * like constants: no graph is recorded for them and they never get a gradient buffer.
 * The data tensor is kept out of memory scopes.
 */
export class Parameter extends Var {
  readonly name: string;
  /** Excluded from weight decay by convention (norm weights, A_log, dt_bias, biases). */
  noDecay: boolean;
  /**
   * Every op that reads this weight takes bf16 storage (the B operand of matmul, the embedding table, MoE
   * experts), so while frozen it may be kept as a bf16 checkpoint stores it. A trained parameter is always f32.
   */
  readonly bf16Ok: boolean;

  constructor(name: string, data: Tensor, opts: { requiresGrad?: boolean; noDecay?: boolean; bf16Ok?: boolean } = {}) {
    if (!name) throw new TypeError('Parameter: name must be a non-empty string');
    const requiresGrad = opts.requiresGrad ?? true;
    checkParameterDtype(`Parameter ${name}`, data.dtype, requiresGrad, opts.bf16Ok ?? false);
    super(keep(data), requiresGrad);
    this.name = name;
    this.noDecay = opts.noDecay ?? false;
    this.bf16Ok = opts.bf16Ok ?? false;
  }

  /**
   * Replaces the data with `t` (same shape; taken over, not copied): f32, or bf16 while frozen when bf16Ok.
   * Loading a bf16 checkpoint into a frozen base uses it to keep the weights bf16.
   */
  replaceData(t: Tensor): void {
    this.checkShape(t);
    checkParameterDtype(this.name, t.dtype, this.requiresGrad, this.bf16Ok);
    if (t === this.data) return;
    const old = this.data;
    this.data = keep(t);
    old.dispose();
  }

  private checkShape(t: Tensor): void {
    if (t.shape.join(',') !== this.data.shape.join(','))
      throw new RangeError(`${this.name}: expected shape [${this.data.shape.join(',')}], got [${t.shape.join(',')}]`);
  }

  /** Replaces the values (same shape), e.g. when loading weights. */
  assign(values: Tensor): void {
    this.checkShape(values);
    // A bf16 (frozen) weight given f32 values takes them as f32: storing them in bf16 could round them.
    if (this.data.dtype === 'bf16' && values.dtype === 'f32') this.replaceData(ops.copy(values));
    else ops.copyInPlace(this.data, values);
  }

  /**
   * Freezes (false) or unfreezes (true); freezing frees the gradient buffer. Unfreezing a bf16 weight widens it
   * to f32 first (exact), so the optimizer always updates f32 master weights.
   */
  setRequiresGrad(on: boolean): void {
    if (on && this.data.dtype === 'bf16') this.replaceData(ops.cast(this.data, 'f32'));
    this.requiresGrad = on;
    if (!on) this.zeroGrad();
  }

  dispose(): void {
    this.zeroGrad();
    this.data.dispose();
  }

  toString(): string {
    return `Parameter(${this.name}, [${this.shape.join(',')}]${this.data.dtype === 'f32' ? '' : `, ${this.data.dtype}`}${this.requiresGrad ? '' : ', frozen'})`;
  }
}

/** Zeros of `shape` on the device of `like` (ops.full makes CPU tensors). */
export function zerosOn(shape: readonly number[], like: Tensor): Tensor {
  return Tensor.zeros(shape, { device: like.device as Device });
}

/** Wraps a tensor as a constant input (no gradient). */
export function constant(t: Tensor): Var {
  return new Var(t, false);
}

/**
 * Records a differentiable result. `backward` maps dOut to the inputs' gradients. When gradients are off or
 * no input requires one, the result is a plain Var and nothing is saved.
 */
export function record(name: string, out: Tensor, inputs: readonly Var[], backward: (dOut: Tensor, pending: (i: number) => Tensor | null) => (Tensor | null)[]): Var {
  if (!gradEnabled || !inputs.some((v) => v.requiresGrad)) return new Var(out, false);
  return new Var(out, true, { name, inputs, backward });
}

function topoOrder(root: Var): Var[] {
  const order: Var[] = [];
  const visited = new Set<Var>();
  // Iterative post-order DFS: deep models would overflow the JS stack with recursion.
  const stack: [Var, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [v, i] = top;
    const inputs = v.node ? v.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const u = inputs[i];
      if (u.requiresGrad && !visited.has(u)) {
        visited.add(u);
        stack.push([u, 0]);
      }
    } else {
      order.push(v);
      stack.pop();
    }
  }
  return order.reverse(); // root first
}

/**
 * Backpropagates from `root` (a scalar unless `dRoot` is given) and accumulates into `.grad` of every leaf
 * Var that requires a gradient. The graph may be walked only once (saved tensors are not freed here but the
 * scope frees them).
 */
export function backward(root: Var, dRoot?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward: the value does not require a gradient (no parameter with requiresGrad reached it, or it was computed under noGrad)');
  if (!dRoot && root.shape.length !== 0 && !(root.shape.length === 1 && root.shape[0] === 1))
    throw new RangeError(`backward: root has shape [${root.shape.join(',')}]; pass dRoot for a non-scalar root`);
  if (dRoot && dRoot.shape.join(',') !== root.shape.join(','))
    throw new RangeError(`backward: dRoot has shape [${dRoot.shape.join(',')}], expected [${root.shape.join(',')}]`);

  const refs = new Map<Tensor, number>();
  const grads = new Map<Var, Tensor>();
  const incRef = (t: Tensor) => refs.set(t, (refs.get(t) ?? 0) + 1);
  const decRef = (t: Tensor) => {
    const n = (refs.get(t) ?? 1) - 1;
    if (n <= 0) {
      refs.delete(t);
      t.dispose();
    } else refs.set(t, n);
  };
  const accumulate = (v: Var, t: Tensor) => {
    if (t.shape.join(',') !== v.shape.join(','))
      throw new Error(`backward: gradient of shape [${t.shape.join(',')}] for a value of shape [${v.shape.join(',')}] (${v.node?.name ?? 'leaf'})`);
    incRef(t);
    const prev = grads.get(v);
    if (!prev) {
      grads.set(v, t);
      return;
    }
    const s = ops.add(prev, t);
    decRef(prev);
    decRef(t);
    incRef(s);
    grads.set(v, s);
  };

  // The caller's dRoot is used as given, held by one extra reference so the pass never frees it, writes into it
  // (pending() offers only tensors held once) or hands it to a leaf without a copy.
  const seed = dRoot ?? ops.addScalar(zerosOn(root.shape, root.data), 1);
  if (dRoot) incRef(dRoot);
  accumulate(root, seed);
  for (const v of topoOrder(root)) {
    const g = grads.get(v);
    if (!g) continue;
    grads.delete(v);
    if (v.node) {
      const inputs = v.node.inputs;
      let offered: (Tensor | null)[] | null = null;
      const pending = (i: number): Tensor | null => {
        const p = grads.get(inputs[i]);
        if (!p || refs.get(p) !== 1 || inputs.indexOf(inputs[i]) !== inputs.lastIndexOf(inputs[i]) || p.sharesStorage()) return null;
        (offered ??= [])[i] = p;
        return p;
      };
      const ins = v.node.backward(g, pending);
      if (ins.length !== inputs.length) throw new Error(`backward: ${v.node.name} returned ${ins.length} gradients for ${inputs.length} inputs`);
      ins.forEach((t, i) => {
        // the tensor pending(i) offered: the node added into it in place (see Node.backward)
        if (t && inputs[i].requiresGrad && !(offered && t === offered[i])) accumulate(inputs[i], t);
      });
      for (const t of ins) if (t && t !== g && !refs.has(t)) t.dispose(); // computed but not needed
    } else if (v.requiresGrad) {
      if (v.grad) ops.addInPlace(v.grad, g);
      else if (refs.get(g) === 1 && !g.sharesStorage()) {
        // this pass's own tensor, needed nowhere else and sharing no storage: the leaf keeps it (no copy)
        refs.delete(g);
        v.grad = keep(g);
        continue;
      } else v.grad = keep(ops.copy(g)); // a copy: g may share storage with other gradients (views)
    }
    decRef(g);
  }
}
