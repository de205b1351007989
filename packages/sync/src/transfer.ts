// Large byte arrays cross between the applying thread and the prepare workers moved, not copied:
// a downloaded snapshot batch on the way in, the snapshot payload (a whole database) on the way
// back. Copying them held each one twice (issue 13: restore RSS).

/** Arrays from this size are moved between threads. */
export const TRANSFER_FROM_BYTES = 1024 * 1024;

/**
 * The transfer list that moves `bytes` to another thread instead of copying it: a large array
 * that is its whole buffer (a view into a bigger or pooled buffer is copied as usual). After the
 * postMessage, `bytes` is detached (empty) on this side.
 */
export function transferable(bytes: Uint8Array): ArrayBuffer[] {
  const buffer = bytes.buffer;
  return bytes.byteLength >= TRANSFER_FROM_BYTES &&
    buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength
    ? [buffer]
    : [];
}
