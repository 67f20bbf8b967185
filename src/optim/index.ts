export {};
export { lrFactor, buildParamGroups, isNoDecay } from './schedule';
export type { LrSchedule, LrDecay, ParamRole, GroupConfig, ParamGroup } from './schedule';
