// Experiment tracking: config schemas, tracker, checkpoints (safetensors), model card.
export { writeSafetensors, readSafetensors, readSafetensorsHeader, toTensorData, tensorDataToFloat32, float32ToBf16Bits, bf16BitsToFloat32, SafetensorsError, SAFETENSORS_DTYPES } from './safetensors';
export type { SafetensorsDType, TensorData, TensorEntry, TensorArray, SafetensorsHeaderEntry } from './safetensors';
export { writeFileAtomic, writeJsonAtomic, sha256File } from './atomic';
export { RecursiveConfigSchema, RunConfigSchema, parseRecursiveConfig, parseRunConfig, loadRecursiveConfig, loadRunConfig, ConfigError, PHASES, CORRUPTION_SCHEDULES, CACHE_RESET_POLICIES } from './config';
export type { RecursiveConfig, RecursiveConfigInput, RunConfig, RunConfigInput, Phase } from './config';
