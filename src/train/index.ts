export { Trainer } from './trainer';
export type { TrainerConfig, TrainerState, TrainerCheckpoint, TrainerHooks, TrainerOptions, RecursiveSettings } from './trainer';
export { evaluate, tokenStats, baseChunkLogits } from './evaluate';
export type { EvalOptions } from './evaluate';
export { trackerHooks, checkpointFromLoaded } from './tracker-hooks';
