export { logGamma, regularizedBeta } from './special';
export { tCdf, tPdf, tQuantile, tTwoSided } from './t';
export { mean, sampleSd, summarize, tInterval, bootstrapInterval, EXACT_BOOTSTRAP_MAX, type Interval, type Summary } from './summary';
export { pairedDifference, welchDifference, signFlipPermutationP, verdictSentence, formatP, pClause, type Difference } from './difference';
export { groupRuns, groupStatistics, compareGroups, meanCurve, isBounded01, type GroupedRun, type GroupStats, type GroupComparison, type MetricStats } from './groups';
