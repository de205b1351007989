import { expectKind, readTextKeyedMap, requireField, type ShapeErrorFactory } from '../cbor/expect';
import type { CborValue } from '../cbor/value';
import { PayloadDecodeError } from './errors';

export const failPayload: ShapeErrorFactory = (message, offset) =>
  new PayloadDecodeError(message, offset);

/**
 * A serde struct read the way serde derive reads it: unknown keys skipped, duplicates already
 * rejected by the CBOR decoder, `Option` fields absent or null -> undefined.
 */
export class PayloadStruct {
  private readonly fields: Map<string, CborValue>;

  constructor(
    private readonly value: CborValue,
    private readonly what: string,
    known: readonly string[],
  ) {
    this.fields = readTextKeyedMap(value, what, failPayload, { known, rejectUnknown: false });
  }

  private required(name: string): CborValue {
    return requireField(this.fields, name, this.what, this.value.start, failPayload);
  }

  text(name: string): string {
    return expectKind(this.required(name), 'text', `${this.what}.${name}`, failPayload).value;
  }

  uint(name: string): bigint {
    return expectKind(this.required(name), 'uint', `${this.what}.${name}`, failPayload).value;
  }

  /** Byte fields must be bstr: the sequencer re-encodes every payload, so it never writes text or arrays here. */
  bytes(name: string): Uint8Array {
    return expectKind(this.required(name), 'bytes', `${this.what}.${name}`, failPayload).value;
  }

  /** `#[serde(default)]` byte field: missing -> empty. */
  bytesOrEmpty(name: string): Uint8Array {
    const v = this.fields.get(name);
    if (v === undefined) return new Uint8Array(0);
    return expectKind(v, 'bytes', `${this.what}.${name}`, failPayload).value;
  }

  optionalText(name: string): string | undefined {
    const v = this.fields.get(name);
    if (v === undefined || v.kind === 'null') return undefined;
    return expectKind(v, 'text', `${this.what}.${name}`, failPayload).value;
  }

  array(name: string): CborValue[] {
    return expectKind(this.required(name), 'array', `${this.what}.${name}`, failPayload).items;
  }

  struct(name: string, known: readonly string[]): PayloadStruct {
    return new PayloadStruct(this.required(name), `${this.what}.${name}`, known);
  }
}
