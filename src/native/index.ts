export { loadAddon, native, op, findOp, findBinaries, packageRoot } from './loader';
export { backendOf, deviceProblem, kernelFor, syncCheck, type DeviceBackend } from './route';
export { cublasCandidates, gemmBackend, type CublasSearch, type GemmBackendStatus } from './cublas';
export { chooseBinary, pickCudaBinary, MIN_COMPUTE_CAPABILITY } from './select';
export type { BinaryCandidate, CudaProbe, Backend, Choice } from './select';
export type { RawBinding, RawOps, CudaOps, NativeTensor, MemoryStats, DTypeName, ThreadInfo, KernelVariant, CpuFeatures } from './binding';
