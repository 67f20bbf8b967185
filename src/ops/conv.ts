import type { Tensor } from '../storage/tensor';
import { call, callMulti } from './native-call';

/** Causal depthwise conv over time: y[b,t,c] = sum_j w[c,j] * x[b, t-W+1+j, c] (zeros before t = 0). */
export const shortConv = (x: Tensor, w: Tensor): Tensor => call('shortConv', x, w);
export const shortConvBackward = (dy: Tensor, x: Tensor, w: Tensor): { dx: Tensor; dw: Tensor } =>
  callMulti<'dx' | 'dw'>('shortConvBackward', dy, x, w);
