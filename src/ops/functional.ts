// Every op of the ops contract (docs/design/ops.md), gathered into the `ops` namespace by ./index.ts.
// Functional: Tensors in, new Tensors out; inputs are never modified except by the *InPlace ops.
export * from './matmul';
export * from './elementwise';
export * from './reduce';
export * from './norm';
export * from './activation';
export * from './embedding';
export * from './conv';
export * from './attention';
export * from './loss';
export * from './shape';
