// TFRecord framing: uint64 length (LE), masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the data.
import { maskedCrc32c } from './crc32c';

/** Bytes of framing around each record's data: 8 (length) + 4 (length CRC) + 4 (data CRC). */
export const RECORD_OVERHEAD = 16;

/** Frames one record. */
export function encodeRecord(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(data.length + RECORD_OVERHEAD);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

export class CorruptRecordError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    what: string,
  ) {
    super(`${file}: corrupt TFRecord at byte offset ${offset}: ${what}`);
    this.name = 'CorruptRecordError';
  }
}

export interface ScannedRecords {
  records: Uint8Array[];
  /** Byte offset of an incomplete last record (a writer that died mid-append), if any. */
  truncatedAt?: number;
}

/**
 * Splits a whole file into record payloads, verifying both CRCs of every complete record.
 * A complete record with a bad CRC throws CorruptRecordError naming `file` and the record's offset.
 * An incomplete record at the very end (fewer bytes left than its header announces) is what a crash
 * mid-write leaves; it is skipped and reported in `truncatedAt`. The length is trusted only after
 * its own CRC checks, so a flipped length bit is reported as corruption, not as truncation.
 */
export function scanRecords(buf: Uint8Array, file: string): ScannedRecords {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 12) return { records, truncatedAt: off };
    const lenCrc = view.getUint32(off + 8, true);
    if (maskedCrc32c(buf.subarray(off, off + 8)) !== lenCrc) throw new CorruptRecordError(file, off, 'length CRC mismatch');
    const len = view.getBigUint64(off, true);
    if (len > BigInt(buf.length - off - RECORD_OVERHEAD)) return { records, truncatedAt: off };
    const n = Number(len);
    const data = buf.subarray(off + 12, off + 12 + n);
    if (maskedCrc32c(data) !== view.getUint32(off + 12 + n, true)) throw new CorruptRecordError(file, off, 'data CRC mismatch');
    records.push(data);
    off += n + RECORD_OVERHEAD;
  }
  return { records };
}
