export { Trainer } from './trainer';
export type { TrainerConfig, TrainerState, TrainerCheckpoint, TrainerHooks, TrainerOptions, RecursiveSettings } from './trainer';
export { evaluate, evalSetHash, tokenStats, baseChunkLogits, EVAL_BATCH_SIZE } from './evaluate';
export type { EvalOptions } from './evaluate';
export { trackerHooks, checkpointFromLoaded } from './tracker-hooks';
