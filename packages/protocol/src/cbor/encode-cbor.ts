import { CborWriter } from './cbor-writer';
import type { CborValue } from './value';

/** Re-encodes a decoded tree with minimal heads, keeping map entry order as given. */
export function encodeCbor(value: CborValue): Uint8Array {
  const writer = new CborWriter();
  writeValue(writer, value);
  return writer.finish();
}

function writeValue(writer: CborWriter, value: CborValue): void {
  switch (value.kind) {
    case 'uint':
    case 'nint':
      writer.int(value.value);
      return;
    case 'bytes':
      writer.bytes(value.value);
      return;
    case 'text':
      writer.text(value.value);
      return;
    case 'null':
      writer.null();
      return;
    case 'array':
      writer.arrayHeader(value.items.length);
      for (const item of value.items) writeValue(writer, item);
      return;
    case 'map':
      writer.mapHeader(value.entries.length);
      for (const { key, value: v } of value.entries) {
        writeValue(writer, key);
        writeValue(writer, v);
      }
      return;
  }
}
