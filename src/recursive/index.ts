export { refinedLayers } from './layers';
export { recursiveLoss, lossWeightsFromConfig, DEFAULT_LOSS_WEIGHTS } from './losses';
export type { LossWeights, LossTerms, RecursiveLossInputs, RecursiveLossResult } from './losses';
