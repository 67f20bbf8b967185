export { Tensor, DisposedError, memory, setNumThreads, getNumThreads } from './tensor';
export type { Device, TensorOptions } from './tensor';
