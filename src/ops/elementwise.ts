import { Tensor } from '../storage/tensor';
import { call, callRaw } from './native-call';

/** a + b with numpy broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => call('binary', a, b, 'add');
/** a - b with numpy broadcasting. */
export const sub = (a: Tensor, b: Tensor): Tensor => call('binary', a, b, 'sub');
/** a * b with numpy broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => call('binary', a, b, 'mul');
/** a / b with numpy broadcasting. */
export const div = (a: Tensor, b: Tensor): Tensor => call('binary', a, b, 'div');

function num(v: number, name: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name}: expected a number, got ${v}`);
  return v;
}

export const scale = (x: Tensor, s: number): Tensor => call('unary', x, 'scale', num(s, 's'));
export const addScalar = (x: Tensor, s: number): Tensor => call('unary', x, 'addScalar', num(s, 's'));
export const neg = (x: Tensor): Tensor => call('unary', x, 'neg');
export const exp = (x: Tensor): Tensor => call('unary', x, 'exp');
export const log = (x: Tensor): Tensor => call('unary', x, 'log');
export const sqrt = (x: Tensor): Tensor => call('unary', x, 'sqrt');
export const square = (x: Tensor): Tensor => call('unary', x, 'square');
export const tanh = (x: Tensor): Tensor => call('unary', x, 'tanh');

/** A new f32 tensor filled with `value`. */
export const full = (shape: readonly number[], value: number): Tensor => call('full', [...shape], num(value, 'value'));
/** A new tensor with the same data (any dtype). */
export const copy = (x: Tensor): Tensor => call('copy', x);
/** A copy of an f32 or bf16 tensor as f32 or bf16 (to bf16: round to nearest even). */
export const cast = (x: Tensor, dtype: 'f32' | 'bf16'): Tensor => call('cast', x, dtype);

/** dst += alpha * src (same shape), in place. */
export function addInPlace(dst: Tensor, src: Tensor, alpha = 1): void {
  callRaw('addInPlace', dst, src, num(alpha, 'alpha'));
}
/** dst *= s, in place. */
export function scaleInPlace(dst: Tensor, s: number): void {
  callRaw('scaleInPlace', dst, num(s, 's'));
}
/** dst = src (same shape and dtype), in place. */
export function copyInPlace(dst: Tensor, src: Tensor): void {
  callRaw('copyInPlace', dst, src);
}
