// TensorBoard event files: our writer (TFRecord framing, brain.Event:2, scalars/text/histograms) and reader.
export { TensorBoardWriter, type TensorBoardWriterOptions } from './writer';
export { readEvents, readScalars, eventFiles, type TBEvents } from './reader';
export type { TBEvent, TBScalar, TBText, TBHistogram } from './event';
export { crc32c, maskedCrc32c } from './crc32c';
export { CorruptRecordError } from './record';
export { defaultBucketLimits } from './histogram';
