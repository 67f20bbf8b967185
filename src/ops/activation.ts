import type { Tensor } from '../storage/tensor';
import { call, callMulti } from './native-call';

export const silu = (x: Tensor): Tensor => call('activation', x, 'silu');
export const siluBackward = (dy: Tensor, x: Tensor): Tensor => call('activationBackward', dy, x, 'silu');
export const sigmoid = (x: Tensor): Tensor => call('activation', x, 'sigmoid');
/** Takes the forward output y (not x). */
export const sigmoidBackward = (dy: Tensor, y: Tensor): Tensor => call('activationBackward', dy, y, 'sigmoid');
/** log(1 + e^x); identity for x > 20, as torch. */
export const softplus = (x: Tensor): Tensor => call('activation', x, 'softplus');
export const softplusBackward = (dy: Tensor, x: Tensor): Tensor => call('activationBackward', dy, x, 'softplus');
/** silu(gate) * up */
export const swiglu = (gate: Tensor, up: Tensor): Tensor => call('swiglu', gate, up);
export const swigluBackward = (dy: Tensor, gate: Tensor, up: Tensor): { dGate: Tensor; dUp: Tensor } =>
  callMulti<'dGate' | 'dUp'>('swigluBackward', dy, gate, up);
