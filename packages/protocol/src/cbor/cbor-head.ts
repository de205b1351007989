// CBOR heads as the streaming readers (cbor-stream-splitter.ts, snapshot-image-stream.ts) see them.
import { CborNonMinimalError } from './errors';

/** The argument of a complete head (minimal encoding enforced, as `decodeCbor` does). */
export function readArgument(head: Uint8Array, start: number): number | bigint {
  const info = head[0]! & 0x1f;
  if (head[0] === 0xf6) return 0;
  if (info < 24) return info;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let arg: number | bigint;
  let minimal: boolean;
  if (info === 24) {
    arg = head[1]!;
    minimal = arg >= 24;
  } else if (info === 25) {
    arg = view.getUint16(1);
    minimal = arg >= 0x100;
  } else if (info === 26) {
    arg = view.getUint32(1);
    minimal = arg >= 0x1_0000;
  } else {
    const big = view.getBigUint64(1);
    minimal = big >= 0x1_0000_0000n;
    arg = big > BigInt(Number.MAX_SAFE_INTEGER) ? big : Number(big);
  }
  if (!minimal) throw new CborNonMinimalError(start);
  return arg;
}
