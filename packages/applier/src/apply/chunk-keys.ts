import type { Reader } from '../changeset/reader';
import type { ColumnValue } from '../types';

// Exact primary-key identity in JS, for the sorted path: two changes of a chunk may be reordered
// only if their keys are certainly different rows. keyClass (TableInfo) says per column which
// values SQLite compares the way JS does.

/** Exact JS identity of the primary key in keyValues, or undefined when it cannot be decided. */
export function exactKey(
  keyValues: ColumnValue[],
  pkOrder: number[],
  keyClass: Uint8Array,
  single: boolean,
): unknown {
  let composite = '';
  for (let k = 0; k < pkOrder.length; k++) {
    const col = pkOrder[k]!;
    const kc = keyClass[col]!;
    const v = keyValues[col];
    let part: unknown;
    if (typeof v === 'number') {
      if ((kc & 1) === 0 && kc !== 4) return undefined;
      part = Number.isInteger(v) && !Number.isSafeInteger(v) ? `b${BigInt(v)}` : v;
    } else if (typeof v === 'bigint') {
      if ((kc & 1) === 0 && kc !== 4) return undefined;
      part = v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : `b${v}`;
    } else if (typeof v === 'string') {
      if ((kc & 2) === 0) return undefined;
      part = `s${v}`;
    } else if (v instanceof Uint8Array) {
      if (kc < 3) return undefined;
      part = `x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
    } else {
      return undefined;
    }
    if (single) return part;
    composite += `${typeof part === 'number' ? `n${part}` : (part as string)}\u0000`;
  }
  return composite;
}

/** exactKey's type checks alone: can every primary-key value in keyValues be compared exactly? */
export function keyComparable(
  keyValues: ColumnValue[],
  pkOrder: number[],
  keyClass: Uint8Array,
): boolean {
  for (let k = 0; k < pkOrder.length; k++) {
    const col = pkOrder[k]!;
    const kc = keyClass[col]!;
    const v = keyValues[col];
    if (typeof v === 'number' || typeof v === 'bigint') {
      if ((kc & 1) === 0 && kc !== 4) return false;
    } else if (typeof v === 'string') {
      if ((kc & 2) === 0) return false;
    } else if (!(v instanceof Uint8Array) || kc < 3) return false;
  }
  return true;
}

/**
 * Composite keys in `order`, sorted by their first column's value in `keys`: true when the
 * changes within each run of equal first values have pairwise distinct exact keys.
 */
export function distinctWithinTies(
  r: Reader,
  columns: number,
  pk: Uint8Array,
  keyValues: ColumnValue[],
  order: ArrayLike<number>,
  keys: Float64Array,
  count: number,
  starts: Float64Array,
  pkOrder: number[],
  keyClass: Uint8Array,
): boolean {
  let j = 1;
  while (j < count) {
    const k = keys[order[j - 1]!]!;
    if (keys[order[j]!] !== k) {
      j++;
      continue;
    }
    let e = j + 1;
    while (e < count && keys[order[e]!] === k) e++;
    const seen = new Set<unknown>();
    for (let x = j - 1; x < e; x++) {
      readKeyAt(r, columns, pk, keyValues, starts[order[x]!]!);
      const key = exactKey(keyValues, pkOrder, keyClass, false);
      if (key === undefined || seen.has(key)) return false;
      seen.add(key);
    }
    j = e + 1;
  }
  return true;
}

/** Reads the primary-key values of the change at `start` into keyValues. Cursor unchanged. */
function readKeyAt(
  r: Reader,
  columns: number,
  pk: Uint8Array,
  keyValues: ColumnValue[],
  start: number,
): void {
  const save = r.pos;
  r.pos = start + 2;
  for (let i = 0; i < columns; i++) {
    if (pk[i] !== 0) keyValues[i] = r.value(false);
    else r.skipRaw();
  }
  r.pos = save;
}
