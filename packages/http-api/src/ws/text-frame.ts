/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2: FIN, opcode 1, no mask, no RSV bits),
 * built once and written as bytes to every subscriber's socket. Valid only while no extension is
 * negotiated: `attachSubscriptions` keeps permessage-deflate off (a compressed control frame
 * would be written later than the raw frames after it, out of order).
 */

/** Bytes of the frame header for a payload of `length` bytes. */
export function frameHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes the header of a final text frame of `length` payload bytes at `offset`; returns its end. */
export function writeFrameHeader(target: Buffer, offset: number, length: number): number {
  target[offset] = 0x81;
  if (length < 126) {
    target[offset + 1] = length;
    return offset + 2;
  }
  if (length < 65_536) {
    target[offset + 1] = 126;
    target.writeUInt16BE(length, offset + 2);
    return offset + 4;
  }
  target[offset + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), offset + 2);
  target.writeUInt32BE(length >>> 0, offset + 6);
  return offset + 10;
}

/** A complete text frame (header and UTF-8 payload) of `text`. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const out = Buffer.allocUnsafe(frameHeaderLength(length) + length);
  out.write(text, writeFrameHeader(out, 0, length), 'utf8');
  return out;
}

/**
 * The frames of `texts` back to back in one buffer, where each starts and ends (so that a subset
 * can be taken as views without copying) and the byte length of each payload.
 */
export function textFrames(texts: readonly string[]): {
  data: Buffer;
  /** Frame `i` is `data[bounds[i]..bounds[i + 1])`. */
  bounds: Uint32Array;
  /** UTF-8 payload bytes per frame. */
  lengths: Uint32Array;
  payloadBytes: number;
} {
  const lengths = new Uint32Array(texts.length);
  let total = 0;
  let payloadBytes = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = Buffer.byteLength(texts[i]!);
    lengths[i] = length;
    payloadBytes += length;
    total += frameHeaderLength(length) + length;
  }
  const data = Buffer.allocUnsafe(total);
  const bounds = new Uint32Array(texts.length + 1);
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    bounds[i] = offset;
    offset = writeFrameHeader(data, offset, lengths[i]!);
    offset += data.write(texts[i]!, offset, 'utf8');
  }
  bounds[texts.length] = offset;
  return { data, bounds, lengths, payloadBytes };
}
