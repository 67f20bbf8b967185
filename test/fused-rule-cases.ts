// Bad inputs for the argument rules of the fused ops (native/fused_rules.h), one or more per rule, shared by
// test/ops-shape-rules.test.ts (the CPU build's messages) and test/cuda-exports.test.ts (the CUDA twins, without a
// GPU: every rule but the device comes before any device work, so cpu tensors reach it).
// `cpu` is the CPU entry's message (null: the CPU accepts this input). `cuda` is given only where the backends
// really differ (bf16 storage, head-dimension and grid limits, cached keys); elsewhere the CUDA twin must throw
// exactly the CPU's message.

export type DType = 'f32' | 'i32' | 'bf16';
/** Makes a cpu tensor with one binary's own fromArray (a binary reads only its own handles). */
export type Make = (shape: number[], dtype?: DType, fill?: number) => unknown;
export interface RuleCase {
  rule: string;
  op: 'kdaForward' | 'kdaBackward' | 'causalAttention' | 'causalAttentionBackward' | 'adamwStep';
  args: (t: Make) => unknown[];
  cpu: RegExp | null;
  cuda?: RegExp;
}

export function maker(b: { fromArray: (...a: never[]) => unknown }): Make {
  const fromArray = b.fromArray as (data: Float32Array | Int32Array, shape: number[], dtype: DType, device: string) => unknown;
  return (shape, dtype = 'f32', fill = 0) => {
    const n = shape.reduce((x, y) => x * y, 1);
    return fromArray(dtype === 'i32' ? new Int32Array(n).fill(fill) : new Float32Array(n).fill(fill), shape, dtype, 'cpu');
  };
}

// KDA: B=1, T=4, H=2, K=8, V=4 unless a case says otherwise.
const kda = (t: Make, over: Partial<Record<'q' | 'k' | 'v' | 'g' | 'beta', unknown>> = {}) => [
  over.q ?? t([1, 4, 2, 8]), over.k ?? t([1, 4, 2, 8]), over.v ?? t([1, 4, 2, 4]), over.g ?? t([1, 4, 2, 8], 'f32', -0.5),
  over.beta ?? t([1, 4, 2]),
];
// Attention: B=1, T=4, H=2, D=8, Dv=4.
const attnBwd = (t: Make, over: Partial<Record<'dO' | 'q' | 'k' | 'v' | 'o' | 'lse', unknown>> = {}) => [
  over.dO ?? t([1, 4, 2, 4]), over.q ?? t([1, 4, 2, 8]), over.k ?? t([1, 4, 2, 8]), over.v ?? t([1, 4, 2, 4]),
  over.o ?? t([1, 4, 2, 4]), over.lse ?? t([1, 2, 4]), {},
];
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
const adamw = (t: Make, o: Record<string, unknown> = hyper) => [[t([2, 3])], [t([2, 3])], [t([2, 3])], [t([2, 3])], o];

export const fusedRuleCases: RuleCase[] = [
  // ---- KDA
  { rule: 'kda q is [B,T,H,K]', op: 'kdaForward', args: (t) => [...kda(t, { q: t([1, 4, 16]) }), {}],
    cpu: /^q: expected 4 dimensions \[B,T,H,K\], got \[1,4,16\]$/ },
  { rule: 'kda k is shaped like q', op: 'kdaForward', args: (t) => [...kda(t, { k: t([1, 4, 2, 9]) }), {}],
    cpu: /^k: expected shape \[B,T,H,K\] = \[1,4,2,8\], got \[1,4,2,9\]$/ },
  { rule: 'kda v is [B,T,H,V]', op: 'kdaForward', args: (t) => [...kda(t, { v: t([1, 5, 2, 4]) }), {}],
    cpu: /^v: expected shape \[B,T,H,V\] = \[1,4,2,4\], got \[1,5,2,4\]$/ },
  { rule: 'kda g is [B,T,H,K]', op: 'kdaForward', args: (t) => [...kda(t, { g: t([1, 4, 2, 7], 'f32', -1) }), {}],
    cpu: /^g: expected shape \[B,T,H,K\] = \[1,4,2,8\], got \[1,4,2,7\]$/ },
  { rule: 'kda beta is [B,T,H]', op: 'kdaForward', args: (t) => [...kda(t, { beta: t([1, 4, 2, 1]) }), {}],
    cpu: /^beta: expected shape \[B,T,H\] = \[1,4,2\], got \[1,4,2,1\]$/ },
  { rule: 'kda initialState is [B,H,K,V]', op: 'kdaForward', args: (t) => [...kda(t), { initialState: t([1, 2, 4, 8]) }],
    cpu: /^initialState: expected shape \[B,H,K,V\] = \[1,2,8,4\], got \[1,2,4,8\]$/ },
  { rule: 'kda dO is [B,T,H,V]', op: 'kdaBackward', args: (t) => [...kda(t), t([1, 4, 2, 8]), {}],
    cpu: /^dO: expected shape \[B,T,H,V\] = \[1,4,2,4\], got \[1,4,2,8\]$/ },
  { rule: 'kda dFinalState is [B,H,K,V]', op: 'kdaBackward', args: (t) => [...kda(t), t([1, 4, 2, 4]), { dFinalState: t([1, 2, 8, 5]) }],
    cpu: /^dFinalState: expected shape \[B,H,K,V\] = \[1,2,8,4\], got \[1,2,8,5\]$/ },
  { rule: 'kda chunkSize is 32 or 64', op: 'kdaForward', args: (t) => [...kda(t), { chunkSize: 48 }],
    cpu: /^chunkSize: expected 32 or 64, got 48$/ },
  { rule: 'kda scale is finite', op: 'kdaBackward', args: (t) => [...kda(t), t([1, 4, 2, 4]), { scale: Infinity }],
    cpu: /^scale: expected a finite number, got Infinity$/ },
  { rule: 'kda head dimensions within the backend limit', op: 'kdaForward',
    args: (t) => [t([1, 1, 1, 4097]), t([1, 1, 1, 4097]), t([1, 1, 1, 4]), t([1, 1, 1, 4097], 'f32', -1), t([1, 1, 1]), {}],
    cpu: /^q\/v: head dimensions K = 4097, V = 4 are above the 4096 the cpu KDA kernels support$/,
    cuda: /^q\/v: head dimensions K = 4097, V = 4 are above the 256 the cuda KDA kernels support$/ },
  { rule: 'kda head dimensions within the backend limit (cuda only)', op: 'kdaForward',
    args: (t) => [...kda(t, { q: t([1, 4, 2, 300]), k: t([1, 4, 2, 300]), g: t([1, 4, 2, 300], 'f32', -1) }), {}],
    cpu: null, cuda: /^q\/v: head dimensions K = 300, V = 4 are above the 256 the cuda KDA kernels support$/ },
  { rule: 'kda B*H within one grid dimension (cuda only)', op: 'kdaForward',
    args: (t) => [t([1, 1, 65536, 1]), t([1, 1, 65536, 1]), t([1, 1, 65536, 1]), t([1, 1, 65536, 1], 'f32', -1), t([1, 1, 65536]), {}],
    cpu: null, cuda: /^q: B\*H = 65536 is above the 65535 the cuda KDA kernels support$/ },
  { rule: 'kda q storage: f32 on cpu, f32 or bf16 on cuda', op: 'kdaForward', args: (t) => [...kda(t, { q: t([1, 4, 2, 8], 'i32') }), {}],
    cpu: /^q: expected dtype f32, got i32$/, cuda: /^q: expected dtype f32 or bf16, got i32$/ },
  { rule: 'kda bf16 q/k: refused on cpu, taken on cuda', op: 'kdaForward',
    args: (t) => [...kda(t, { q: t([1, 4, 2, 8], 'bf16'), k: t([1, 4, 2, 8], 'bf16') }), {}],
    cpu: /^q: expected dtype f32, got bf16$/, cuda: /^q: expected a cuda tensor, got one on cpu$/ },
  { rule: 'kda k is stored like q', op: 'kdaForward', args: (t) => [...kda(t, { k: t([1, 4, 2, 8], 'bf16') }), {}],
    cpu: /^k: expected the dtype of q \(f32\), got bf16$/ },
  { rule: 'kda g is f32', op: 'kdaForward', args: (t) => [...kda(t, { g: t([1, 4, 2, 8], 'bf16', -1) }), {}],
    cpu: /^g: expected dtype f32, got bf16$/ },
  { rule: 'kda dO is stored like v', op: 'kdaBackward', args: (t) => [...kda(t), t([1, 4, 2, 4], 'bf16'), {}],
    cpu: /^dO: expected the dtype of v \(f32\), got bf16$/ },
  { rule: 'kda initialState is f32', op: 'kdaForward', args: (t) => [...kda(t), { initialState: t([1, 2, 8, 4], 'i32') }],
    cpu: /^initialState: expected dtype f32, got i32$/ },
  { rule: 'kda tensors on the backend device', op: 'kdaBackward', args: (t) => [...kda(t), t([1, 4, 2, 4]), {}],
    cpu: null, cuda: /^q: expected a cuda tensor, got one on cpu$/ },

  // ---- causal attention
  { rule: 'attention q is [B,Tq,H,D]', op: 'causalAttention', args: (t) => [t([1, 4, 16]), t([1, 4, 2, 8]), t([1, 4, 2, 4]), {}],
    cpu: /^q: expected 4 dimensions \[B,Tq,H,D\], got \[1,4,16\]$/ },
  { rule: 'attention k is [B,Tk,H,D] (Tk >= Tq on cpu, Tk = Tq on cuda)', op: 'causalAttention',
    args: (t) => [t([1, 4, 2, 8]), t([1, 4, 2, 7]), t([1, 4, 2, 4]), {}],
    cpu: /^k: expected shape \[B,Tk,H,D\] with B,H,D = 1,2,8 and Tk >= Tq = 4 \(from q \[1,4,2,8\]\), got \[1,4,2,7\]$/,
    cuda: /^k: expected shape \[B,Tk,H,D\] with B,H,D = 1,2,8 and Tk = Tq = 4 \(from q \[1,4,2,8\]; cuda attention takes no cached keys\), got \[1,4,2,7\]$/ },
  { rule: 'attention cached keys (Tk > Tq): cpu only', op: 'causalAttention',
    args: (t) => [t([1, 4, 2, 8]), t([1, 6, 2, 8]), t([1, 6, 2, 4]), {}],
    cpu: null, cuda: /^k: expected shape \[B,Tk,H,D\] with B,H,D = 1,2,8 and Tk = Tq = 4 \(from q \[1,4,2,8\]; cuda attention takes no cached keys\), got \[1,6,2,8\]$/ },
  { rule: 'attention v is [B,Tk,H,Dv]', op: 'causalAttention', args: (t) => [t([1, 4, 2, 8]), t([1, 4, 2, 8]), t([1, 5, 2, 4]), {}],
    cpu: /^v: expected shape \[B,Tk,H,Dv\] with B,Tk,H = 1,4,2, got \[1,5,2,4\]$/ },
  { rule: 'attention o is [B,Tq,H,Dv]', op: 'causalAttentionBackward', args: (t) => attnBwd(t, { o: t([1, 4, 2, 8]) }),
    cpu: /^o: expected shape \[B,Tq,H,Dv\] = \[1,4,2,4\], got \[1,4,2,8\]$/ },
  { rule: 'attention dO is [B,Tq,H,Dv]', op: 'causalAttentionBackward', args: (t) => attnBwd(t, { dO: t([1, 3, 2, 4]) }),
    cpu: /^dO: expected shape \[B,Tq,H,Dv\] = \[1,4,2,4\], got \[1,3,2,4\]$/ },
  { rule: 'attention lse is [B,H,Tq]', op: 'causalAttentionBackward', args: (t) => attnBwd(t, { lse: t([1, 4, 2]) }),
    cpu: /^lse: expected shape \[B,H,Tq\] = \[1,2,4\], got \[1,4,2\]$/ },
  { rule: 'attention scale is finite', op: 'causalAttention', args: (t) => [t([1, 4, 2, 8]), t([1, 4, 2, 8]), t([1, 4, 2, 4]), { scale: NaN }],
    cpu: /^scale: expected a finite number, got NaN$/ },
  { rule: 'attention head dimensions: any on cpu, up to 256 on cuda', op: 'causalAttention',
    args: (t) => [t([1, 2, 1, 300]), t([1, 2, 1, 300]), t([1, 2, 1, 4]), {}],
    cpu: null, cuda: /^q\/v: head dimensions D = 300, Dv = 4 are above the 256 the cuda attention supports$/ },
  { rule: 'attention tensors are f32', op: 'causalAttentionBackward', args: (t) => attnBwd(t, { lse: t([1, 2, 4], 'bf16') }),
    cpu: /^lse: expected dtype f32, got bf16$/ },
  { rule: 'attention v is f32', op: 'causalAttention', args: (t) => [t([1, 4, 2, 8]), t([1, 4, 2, 8]), t([1, 4, 2, 4], 'i32'), {}],
    cpu: /^v: expected dtype f32, got i32$/ },
  { rule: 'attention tensors on the backend device', op: 'causalAttention', args: (t) => [t([1, 4, 2, 8]), t([1, 4, 2, 8]), t([1, 4, 2, 4]), {}],
    cpu: null, cuda: /^q: expected a cuda tensor, got one on cpu$/ },

  // ---- AdamW
  { rule: 'adamw one grads/m/v tensor per param', op: 'adamwStep',
    args: (t) => [[t([2, 3])], [t([2, 3]), t([2, 3])], [t([2, 3])], [t([2, 3])], hyper],
    cpu: /^grads: expected 1 tensors \(one per param\), got 2$/ },
  { rule: 'adamw v list length', op: 'adamwStep', args: (t) => [[t([2, 3])], [t([2, 3])], [t([2, 3])], [], hyper],
    cpu: /^v: expected 1 tensors \(one per param\), got 0$/ },
  { rule: 'adamw lr >= 0 and finite', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, lr: NaN }),
    cpu: /^lr: expected a finite number >= 0, got NaN$/ },
  { rule: 'adamw beta1 in [0, 1)', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, beta1: 1 }),
    cpu: /^beta1: expected a number in \[0, 1\), got 1$/ },
  { rule: 'adamw beta2 in [0, 1)', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, beta2: -0.1 }),
    cpu: /^beta2: expected a number in \[0, 1\), got -0.1$/ },
  { rule: 'adamw eps >= 0', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, eps: '1' }),
    cpu: /^eps: expected a finite number >= 0, got string$/ },
  { rule: 'adamw weightDecay is required', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, weightDecay: undefined }),
    cpu: /^weightDecay: expected a finite number >= 0, got undefined$/ },
  { rule: 'adamw step is an integer >= 1', op: 'adamwStep', args: (t) => adamw(t, { ...hyper, step: 1.5 }),
    cpu: /^step: expected an integer >= 1, got 1.5$/ },
  { rule: 'adamw m[i] is shaped like params[i]', op: 'adamwStep', args: (t) => [[t([2, 3])], [t([2, 3])], [t([3, 2])], [t([2, 3])], hyper],
    cpu: /^m\[0\]: expected shape \[2,3\] \(the shape of params\[0\]\), got \[3,2\]$/ },
  { rule: 'adamw tensors are f32', op: 'adamwStep', args: (t) => [[t([2, 3])], [t([2, 3], 'bf16')], [t([2, 3])], [t([2, 3])], hyper],
    cpu: /^grads\[0\]: expected dtype f32, got bf16$/ },
  {
    rule: 'adamw no storage written twice (after the device: not reachable on cuda without a GPU)', op: 'adamwStep',
    args: (t) => { const p = t([2, 3]); return [[p], [t([2, 3])], [t([2, 3])], [p], hyper]; },
    cpu: /^v\[0\]: shares memory with another params\/m\/v tensor of this call$/, cuda: /^params\[0\]: expected a cuda tensor, got one on cpu$/,
  },
  { rule: 'adamw tensors on the backend device', op: 'adamwStep', args: (t) => adamw(t),
    cpu: null, cuda: /^params\[0\]: expected a cuda tensor, got one on cpu$/ },
];

/** The message a call throws ('' when it returns). */
export function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}
