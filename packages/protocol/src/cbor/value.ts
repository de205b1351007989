/**
 * A decoded CBOR item of the subset SyndDB uses. `start`/`end` are offsets into the decoded input,
 * so callers can keep the exact original bytes of any item (e.g. a COSE protected header).
 */
export type CborValue =
  | { kind: 'uint'; value: bigint; start: number; end: number }
  | { kind: 'nint'; value: bigint; start: number; end: number }
  | { kind: 'bytes'; value: Uint8Array; start: number; end: number }
  | { kind: 'text'; value: string; start: number; end: number }
  | { kind: 'array'; items: CborValue[]; start: number; end: number }
  | { kind: 'map'; entries: CborMapEntry[]; start: number; end: number }
  | { kind: 'null'; start: number; end: number };

/** Map keys are restricted to integers and text: the only key types in the protocol. */
export type CborMapKey = Extract<CborValue, { kind: 'uint' | 'nint' | 'text' }>;

export interface CborMapEntry {
  key: CborMapKey;
  value: CborValue;
}
