// The state-root delta as it was before the issue-12 work (commit 168b6eb), kept verbatim in
// JavaScript as the baseline of bench/state-root.bench.mjs: iterateChangeset's change objects,
// a RowElementWriter that encodes the table name per row and converts every INTEGER to a BigInt,
// and a fresh createHash('shake128') object and digest buffer per element (the element hash was
// SHAKE128 then; `hash` swaps in today's to check the new code's result with the old loop).
import { createHash } from 'node:crypto';
import { isStateTable, iterateChangeset } from '../dist/index.js';

const LANES = 1024;
const BYTES = 2048;
const DOMAIN = new TextEncoder().encode('synddb/state-row/v1\0');
const utf8 = new TextEncoder();
const asciiLower = (name) => name.replace(/[A-Z]+/g, (s) => s.toLowerCase());

export function oldHashElement(element, out = new Uint16Array(LANES)) {
  const digest = createHash('shake128', { outputLength: BYTES }).update(element).digest();
  new Uint8Array(out.buffer, out.byteOffset, BYTES).set(digest);
  return out;
}

export class OldRowElementWriter {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  begin(table, columns) {
    this.#pos = 0;
    this.#bytes(DOMAIN);
    const name = utf8.encode(asciiLower(table));
    this.#u32(name.byteLength);
    this.#bytes(name);
    this.#u32(columns);
  }

  value(type, v) {
    switch (type) {
      case 1:
        this.#ensure(9);
        this.#buf[this.#pos++] = 1;
        this.#view.setBigInt64(this.#pos, typeof v === 'bigint' ? v : BigInt(v));
        this.#pos += 8;
        return;
      case 2:
        this.#ensure(9);
        this.#buf[this.#pos++] = 2;
        this.#view.setFloat64(this.#pos, v === 0 ? 0 : v);
        this.#pos += 8;
        return;
      case 3: {
        const bytes = utf8.encode(v);
        this.#ensure(5 + bytes.byteLength);
        this.#buf[this.#pos++] = 3;
        this.#u32(bytes.byteLength);
        this.#bytes(bytes);
        return;
      }
      case 4:
        this.#ensure(5 + v.byteLength);
        this.#buf[this.#pos++] = 4;
        this.#u32(v.byteLength);
        this.#bytes(v);
        return;
      case 5:
        this.#ensure(1);
        this.#buf[this.#pos++] = 5;
        return;
      default:
        throw new TypeError(`a row element needs every column's value (type ${type})`);
    }
  }

  finish() {
    return this.#buf.subarray(0, this.#pos);
  }

  #u32(n) {
    this.#ensure(4);
    this.#view.setUint32(this.#pos, n);
    this.#pos += 4;
  }

  #bytes(b) {
    this.#ensure(b.byteLength);
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  #ensure(n) {
    if (this.#pos + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/** changesetStateDelta as it was: the lanes and the UPDATEs left to resolve. */
export function oldChangesetStateDelta(changeset, hash = oldHashElement) {
  const lanes = new Uint16Array(LANES);
  const scratch = new Uint16Array(LANES);
  const writer = new OldRowElementWriter();
  const updates = [];
  let lastTable = '';
  let included = false;
  for (const { table, change } of iterateChangeset(changeset)) {
    if (table.name !== lastTable) {
      lastTable = table.name;
      included = isStateTable(table.name);
    }
    if (!included) continue;
    if (change.op === 'UPDATE') {
      updates.push({
        table: table.name,
        primaryKey: table.primaryKey,
        oldValues: change.oldValues,
        oldTypes: change.oldTypes,
        newValues: change.newValues,
        newTypes: change.newTypes,
      });
      continue;
    }
    const insert = change.op === 'INSERT';
    const values = insert ? change.newValues : change.oldValues;
    const types = insert ? change.newTypes : change.oldTypes;
    writer.begin(table.name, table.columnCount);
    for (let i = 0; i < table.columnCount; i++) writer.value(types[i], values[i]);
    hash(writer.finish(), scratch);
    if (insert) for (let i = 0; i < LANES; i++) lanes[i] = lanes[i] + scratch[i];
    else for (let i = 0; i < LANES; i++) lanes[i] = lanes[i] - scratch[i];
  }
  return { lanes, updates };
}
