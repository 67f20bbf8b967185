export { RecursiveConfigSchema, parseRecursiveConfig, refinedLayers } from './config';
export type { RecursiveConfig, RecursiveConfigInput } from './config';
export { recursiveLoss, lossWeightsFromConfig, DEFAULT_LOSS_WEIGHTS } from './losses';
export type { LossWeights, LossTerms, RecursiveLossInputs, RecursiveLossResult } from './losses';
