export { loadAddon, native, op, candidateAddonPaths, packageRoot } from './loader';
export type { RawBinding, NativeTensor, MemoryStats, DTypeName } from './binding';
