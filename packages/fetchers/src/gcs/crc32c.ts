/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum GCS reports per object. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  return crc32cFinish(crc32cUpdate(CRC32C_START, bytes));
}

/** The running state of a CRC-32C fed in pieces (`crc32cUpdate`, then `crc32cFinish`). */
export const CRC32C_START = 0xffffffff;

export function crc32cUpdate(state: number, bytes: Uint8Array): number {
  let crc = state;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

export function crc32cFinish(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}

/** The JSON API / x-goog-hash form: base64 of the big-endian 4-byte value. */
export function crc32cBase64(bytes: Uint8Array): string {
  return crc32cToBase64(crc32c(bytes));
}

export function crc32cToBase64(crc: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc);
  return out.toString('base64');
}
