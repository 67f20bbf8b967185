export { kda } from './kda';
export * as ops from './functional';
export type { MatmulOptions } from './matmul';
export type { ReduceOptions } from './reduce';
export type { AttentionOptions } from './attention';
export type { CrossEntropyOptions } from './loss';
export { moe, type MoeRouteOptions } from './moe';
