// The tensor API users see: the storage layer (Tensor, scopes; src/storage/) and autograd over the ops.
export { Tensor, DisposedError, memory, setNumThreads, getNumThreads, withDefaultDevice, getDefaultDevice, scope, keep, unkeep, isKept, scopeDepth } from '../storage';
export type { Device, TensorOptions } from '../storage';
export type { Node } from './autograd';
export { Var, Parameter, noGrad, isGradEnabled, backward, constant, record, zerosOn } from './autograd';
export * as ag from './functions';
