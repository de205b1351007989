import type { ColumnValue } from '../types';
import { readCommonValue } from './read-record';
import type { Reader } from './reader';

/**
 * The sorted path's scan of one record at the cursor: decodes the primary-key values into
 * keys[i] (INTEGERs as numbers when safe) and steps over every other value without decoding
 * or validating it. codes, when given (the old record of an UPDATE), gets per column 2 when the
 * record carries a non-key value, else 0. Returns false when a value is truncated or of an
 * unknown type (cursor unspecified: the scan gives up and the exact paths read the change and
 * report it); else leaves the cursor after the record.
 *
 * Why not readRecord: the scan passes over every change of a chunk (up to 262,144) before any
 * is applied, only to learn its key and shape; the values are decoded later, in key order,
 * straight into statement parameters. Decoding them here too would make every TEXT a string
 * and every BLOB a view twice (the inline skip was ~7% of a 200k-row INSERT's CPU, ca54296,
 * 89e6aeb).
 */
export function scanRecordKeys(
  r: Reader,
  columns: number,
  pk: Uint8Array,
  keys: ColumnValue[],
  codes: number[] | undefined,
): boolean {
  const buf = r.buf;
  const end = r.end;
  let p = r.pos;
  for (let i = 0; i < columns; i++) {
    if (p >= end) return false;
    const ty = buf[p]!;
    if (pk[i] !== 0) {
      if (codes !== undefined) codes[i] = 0;
      const next = readCommonValue(r, p, ty, false, null, keys, i);
      if (next >= 0) {
        p = next;
        continue;
      }
      r.pos = p;
      keys[i] = r.value(false);
      p = r.pos;
      continue;
    }
    if (codes !== undefined) codes[i] = ty !== 0 ? 2 : 0;
    p++;
    if (ty === 1 || ty === 2) p += 8;
    else if (ty === 3 || ty === 4) {
      if (p >= end) return false;
      const c = buf[p]!;
      let len: number;
      if (c < 0x80) {
        len = c;
        p++;
      } else {
        r.pos = p;
        len = r.varint();
        p = r.pos;
      }
      p += len;
    } else if (ty !== 0 && ty !== 5) return false;
  }
  if (p > end) return false;
  r.pos = p;
  return true;
}
