export { uploadExperiment, UploadError, DEFAULT_HUB_URL, networkFailure } from './upload';
export type { UploadOptions, UploadResult } from './upload';
export { planUpload, bestCheckpoint, UploadPlanError } from './manifest';
export type { UploadPlan, UploadEntry } from './manifest';
export { checkRepoId, RepoIdError } from './repo-id';
