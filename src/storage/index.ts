// The bottom of the TypeScript stack: the Tensor handle over native-owned memory, and memory scopes.
// ops/ builds on this (and the raw binding in native/); tensor/ (autograd) builds on ops/. Nothing here may
// import ops/ or tensor/, so the layers stay a line: native -> storage -> ops -> tensor (autograd).
export { Tensor, DisposedError, memory, setNumThreads, getNumThreads, withDefaultDevice, getDefaultDevice } from './tensor';
export type { Device, TensorOptions } from './tensor';
export { scope, keep, unkeep, isKept, scopeDepth } from './scope';
