import type { SyndDBError } from '../errors';
import type { CborValue } from './value';

/**
 * Builds the domain error for a type/shape violation (e.g. BatchStructureError); `offset` is the
 * position of the offending item in the decoded input.
 */
export type ShapeErrorFactory = (message: string, offset: number) => SyndDBError;

type Of<K extends CborValue['kind']> = Extract<CborValue, { kind: K }>;

/** Asserts the item's kind, raising the caller's domain error otherwise. */
export function expectKind<K extends CborValue['kind']>(
  value: CborValue,
  kind: K,
  field: string,
  fail: ShapeErrorFactory,
): Of<K> {
  if (value.kind !== kind) throw fail(`${field} must be ${kind}, got ${value.kind}`, value.start);
  return value as Of<K>;
}

export interface TextKeyedMapOptions {
  /** Keys the struct declares. */
  known: readonly string[];
  /**
   * true: any other key is an error. false: other keys are skipped like serde does for structs
   * (their values are still fully validated CBOR).
   */
  rejectUnknown: boolean;
}

/** Reads a map whose keys are all text (a serde struct) into a key -> value lookup. */
export function readTextKeyedMap(
  value: CborValue,
  what: string,
  fail: ShapeErrorFactory,
  options: TextKeyedMapOptions,
): Map<string, CborValue> {
  const map = expectKind(value, 'map', what, fail);
  const fields = new Map<string, CborValue>();
  for (const { key, value: v } of map.entries) {
    if (key.kind !== 'text') throw fail(`${what} has a non-text key ${key.value}`, key.start);
    if (!options.known.includes(key.value)) {
      if (options.rejectUnknown) throw fail(`${what} has unknown key "${key.value}"`, key.start);
      continue;
    }
    fields.set(key.value, v);
  }
  return fields;
}

/** Fetches a required field or raises a "missing" error pointing at the map. */
export function requireField(
  fields: Map<string, CborValue>,
  name: string,
  what: string,
  mapStart: number,
  fail: ShapeErrorFactory,
): CborValue {
  const v = fields.get(name);
  if (v === undefined) throw fail(`${what} is missing "${name}"`, mapStart);
  return v;
}
