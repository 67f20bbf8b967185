// File formats shared by the model (nn/) and experiment tracking (experiment/): safetensors reading and
// writing, and crash-safe (atomic) file writes. Depends on nothing else in reclin but the Tensor type.
export { writeSafetensors, readSafetensors, readSafetensorsHeader, toTensorData, tensorDataToFloat32, float32ToBf16Bits, bf16BitsToFloat32, SafetensorsError, SAFETENSORS_DTYPES } from './safetensors';
export type { SafetensorsDType, TensorData, TensorEntry, TensorArray, SafetensorsHeaderEntry } from './safetensors';
export { writeFileAtomic, writeJsonAtomic, sha256File } from './atomic';
