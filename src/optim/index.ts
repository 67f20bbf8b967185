export { adamw } from './adamw';
export type { AdamWOptions } from './adamw';
export { lrFactor, buildParamGroups, isNoDecay } from './schedule';
export type { LrSchedule, LrDecay, ParamRole, GroupConfig, ParamGroup } from './schedule';
