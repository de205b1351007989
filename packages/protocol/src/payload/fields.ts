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

  /** The field's item of `kind`; the error text is only built when it is not. */
  private of<K extends CborValue['kind']>(value: CborValue, kind: K, name: string) {
    if (value.kind === kind) return value as Extract<CborValue, { kind: K }>;
    return expectKind(value, kind, `${this.what}.${name}`, failPayload);
  }

  text(name: string): string {
    return this.of(this.required(name), 'text', name).value;
  }

  uint(name: string): bigint {
    return this.of(this.required(name), 'uint', name).value;
  }

  /** Byte fields must be bstr: the sequencer re-encodes every payload, so it never writes text or arrays here. */
  bytes(name: string): Uint8Array {
    return this.of(this.required(name), 'bytes', name).value;
  }

  /** `#[serde(default)]` byte field: missing -> empty. */
  bytesOrEmpty(name: string): Uint8Array {
    const v = this.fields.get(name);
    if (v === undefined) return new Uint8Array(0);
    return this.of(v, 'bytes', name).value;
  }

  optionalText(name: string): string | undefined {
    const v = this.fields.get(name);
    if (v === undefined || v.kind === 'null') return undefined;
    return this.of(v, 'text', name).value;
  }

  array(name: string): CborValue[] {
    return this.of(this.required(name), 'array', name).items;
  }

  struct(name: string, known: readonly string[]): PayloadStruct {
    return new PayloadStruct(this.required(name), `${this.what}.${name}`, known);
  }
}
