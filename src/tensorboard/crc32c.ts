// CRC-32C (Castagnoli) and the "masked" form that TFRecord framing stores (docs/design/formats.md §5).
// The CRC itself comes from SheetJS `crc-32` (zero dependencies, pure JS, slice-by-16 tables);
// only the mask, a two-line formula from tensorflow/core/lib/hash/crc32c.h, is ours.
import * as CRC32C from 'crc-32/crc32c';

const MASK_DELTA = 0xa282ead8;

/** CRC-32C of `data` as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array): number {
  return CRC32C.buf(data) >>> 0;
}

/** TensorFlow's masked CRC: rotate right by 15 bits, then add kMaskDelta (mod 2^32). */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + MASK_DELTA) >>> 0;
}
