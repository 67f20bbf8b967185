import type { Tensor } from '../storage/tensor';
import { call } from './native-call';

/** Rows of weight [V,D] picked by i32 ids [...] -> [...,D]. */
export const embedding = (weight: Tensor, ids: Tensor): Tensor => call('embedding', weight, ids);
/** Scatter-add of dOut [...,D] rows into a zero [V,D] gradient. */
export const embeddingBackward = (dOut: Tensor, ids: Tensor, V: number): Tensor => call('embeddingBackward', dOut, ids, V);
