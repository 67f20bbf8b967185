export { Rng, mixSeed } from './rng';
export type { RngState } from './rng';
// Tokenizers live in src/tokenizer/; the data API exports them with the sources that use them.
export * from '../tokenizer';
export { additionTask, sortingTask, reverseTask, makeTask, exactMatch } from './tasks';
export type { SyntheticTask, TaskSample, TaskSpec } from './tasks';
export { TaskSource, TextFileSource, JsonlSource } from './sources';
export type { Example, ExampleSource } from './sources';
export { Batcher } from './batcher';
export type { BatcherState, BatcherOptions } from './batcher';
export { collateChunks, collateSequences, IGNORE_INDEX } from './collate';
export type { ChunkBatch, ChunkCollateOptions, SequenceBatch } from './collate';
export { corruptionRateAt, corruptionMask, corruptChunk } from './corruption';
export type { CorruptionSchedule, CorruptionStrategy, CorruptionMode, CorruptedDraft } from './corruption';
