export { Tensor, DisposedError, memory, setNumThreads, getNumThreads, withDefaultDevice, getDefaultDevice } from './tensor';
export type { Device, TensorOptions } from './tensor';
export { scope, keep, unkeep, isKept, scopeDepth } from './scope';
export type { Node } from "./autograd";
export { Var, Parameter, noGrad, isGradEnabled, backward, constant, record, zerosOn } from './autograd';
export * as ag from './functions';
