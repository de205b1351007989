import { SyndDBError } from '../errors';

/** Codes of `CborDecodeError` and its subclasses. */
export type CborErrorCode =
  | 'CBOR_DECODE'
  | 'CBOR_UNEXPECTED_END'
  | 'CBOR_TRAILING_BYTES'
  | 'CBOR_DUPLICATE_KEY'
  | 'CBOR_NESTING_DEPTH'
  | 'CBOR_NON_MINIMAL'
  | 'CBOR_UNSUPPORTED_ITEM';

/** Malformed or unsupported CBOR. Subclasses narrow the reason; all carry the byte offset. */
export class CborDecodeError extends SyndDBError {
  override name = 'CborDecodeError';
  declare readonly code: CborErrorCode;
  override readonly kind = 'decode';
  readonly offset: number;

  constructor(
    shortMessage: string,
    offset: number,
    details?: string,
    code: CborErrorCode = 'CBOR_DECODE',
  ) {
    super(code, shortMessage, {
      details: details ? `offset ${offset}: ${details}` : `offset ${offset}`,
    });
    this.offset = offset;
  }
}

/** The input ends before the item does, or a declared length exceeds the remaining bytes. */
export class CborUnexpectedEndError extends CborDecodeError {
  override name = 'CborUnexpectedEndError';
  declare readonly code: 'CBOR_UNEXPECTED_END';
  constructor(offset: number, needed: bigint | number, remaining: number) {
    super(
      'CBOR input ends before the item does',
      offset,
      `needs ${needed} more byte(s), ${remaining} remaining`,
      'CBOR_UNEXPECTED_END',
    );
  }
}

/** Bytes follow the single top-level item. */
export class TrailingBytesError extends CborDecodeError {
  override name = 'TrailingBytesError';
  declare readonly code: 'CBOR_TRAILING_BYTES';
  readonly trailing: number;
  constructor(offset: number, trailing: number) {
    super(
      `${trailing} trailing byte(s) after the CBOR item`,
      offset,
      undefined,
      'CBOR_TRAILING_BYTES',
    );
    this.trailing = trailing;
  }
}

/** A map contains the same key twice. */
export class DuplicateMapKeyError extends CborDecodeError {
  override name = 'DuplicateMapKeyError';
  declare readonly code: 'CBOR_DUPLICATE_KEY';
  constructor(offset: number, key: string) {
    super(`duplicate map key ${key}`, offset, undefined, 'CBOR_DUPLICATE_KEY');
  }
}

/** Arrays/maps nested deeper than the configured bound. */
export class CborNestingDepthError extends CborDecodeError {
  override name = 'CborNestingDepthError';
  declare readonly code: 'CBOR_NESTING_DEPTH';
  constructor(offset: number, maxDepth: number) {
    super(`CBOR nesting deeper than ${maxDepth}`, offset, undefined, 'CBOR_NESTING_DEPTH');
  }
}

/** A head uses more argument bytes than needed; the Rust writer never emits that. */
export class CborNonMinimalError extends CborDecodeError {
  override name = 'CborNonMinimalError';
  declare readonly code: 'CBOR_NON_MINIMAL';
  constructor(offset: number) {
    super('non-minimal CBOR head', offset, undefined, 'CBOR_NON_MINIMAL');
  }
}

/** A well-formed item outside the accepted subset: tags, floats, simple values, indefinite lengths. */
export class CborUnsupportedItemError extends CborDecodeError {
  override name = 'CborUnsupportedItemError';
  declare readonly code: 'CBOR_UNSUPPORTED_ITEM';
  constructor(offset: number, what: string) {
    super(`unsupported CBOR item: ${what}`, offset, undefined, 'CBOR_UNSUPPORTED_ITEM');
  }
}
