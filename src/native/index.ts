export { loadAddon, native, op, findBinaries, packageRoot } from './loader';
export { chooseBinary, pickCudaBinary, MIN_COMPUTE_CAPABILITY } from './select';
export type { BinaryCandidate, CudaProbe, Backend, Choice } from './select';
export type { RawBinding, NativeTensor, MemoryStats, DTypeName } from './binding';
