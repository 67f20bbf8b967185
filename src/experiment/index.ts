// Experiment tracking: config schemas, tracker, checkpoints (safetensors), model card.
export { writeSafetensors, readSafetensors, readSafetensorsHeader, toTensorData, tensorDataToFloat32, float32ToBf16Bits, bf16BitsToFloat32, SafetensorsError, SAFETENSORS_DTYPES } from './safetensors';
export type { SafetensorsDType, TensorData, TensorEntry, TensorArray, SafetensorsHeaderEntry } from './safetensors';
export { writeFileAtomic, writeJsonAtomic, sha256File } from './atomic';
