import { bytesToHex, equalBytes, SyndDBError } from '@synddb/protocol';

/** Storage lists batches after `expected` but none containing it. */
export class SequenceGapError extends SyndDBError {
  override name = 'SequenceGapError';
  declare readonly code: 'SEQUENCE_GAP';
  override readonly kind = 'gap';
  readonly start: bigint;
  readonly end: bigint;
  constructor(start: bigint, end: bigint, attempts: number) {
    super('SEQUENCE_GAP', `Sequences ${start}..${end - 1n} are missing from storage`, {
      details: `next batch starts at ${end}; checked ${attempts} time(s)`,
    });
    this.start = start;
    this.end = end;
  }
}

/** The batch index lists a batch that storage then does not serve. */
export class BatchUnavailableError extends SyndDBError {
  override name = 'BatchUnavailableError';
  declare readonly code: 'BATCH_UNAVAILABLE';
  override readonly kind = 'storage';
  constructor(path: string, start: bigint) {
    super('BATCH_UNAVAILABLE', `Batch starting at ${start} is listed but could not be downloaded`, {
      details: `path ${path}`,
    });
  }
}

/** A batch's content does not cover the range its listing (file name) claims. */
export class BatchListingMismatchError extends SyndDBError {
  override name = 'BatchListingMismatchError';
  declare readonly code: 'BATCH_LISTING_MISMATCH';
  override readonly kind = 'decode';
  constructor(listed: { start: bigint; end: bigint }, actual: { start: bigint; end: bigint }) {
    super('BATCH_LISTING_MISMATCH', 'Batch content does not match its listed range', {
      details: `listed ${listed.start}..${listed.end}, content ${actual.start}..${actual.end}`,
    });
  }
}

/** The batch is signed by a key that is not among the trusted sequencer keys. */
export class UntrustedSignerError extends SyndDBError {
  override name = 'UntrustedSignerError';
  declare readonly code: 'UNTRUSTED_SIGNER';
  override readonly kind = 'verification';
  constructor(pubkeyHex: string) {
    super('UNTRUSTED_SIGNER', 'Batch is signed by a key that is not a trusted sequencer key', {
      details: `batch pubkey 0x${pubkeyHex}`,
    });
  }
}

/** A message's sequence is not the one the engine must apply next. */
export class UnexpectedSequenceError extends SyndDBError {
  override name = 'UnexpectedSequenceError';
  declare readonly code: 'UNEXPECTED_SEQUENCE';
  override readonly kind = 'decode';
  constructor(expected: bigint, actual: bigint) {
    super('UNEXPECTED_SEQUENCE', 'Storage returned a different sequence than requested', {
      details: `expected ${expected}, got ${actual}`,
    });
  }
}

/** The trusted key equal to `signer`; `UntrustedSignerError` when none is. */
export function requireTrustedKey(
  trustedKeys: readonly Uint8Array[],
  signer: Uint8Array,
): Uint8Array {
  const key = trustedKeys.find((k) => equalBytes(k, signer));
  if (key === undefined) throw new UntrustedSignerError(bytesToHex(signer));
  return key;
}

/**
 * The disk holding the replica has too little free space for a snapshot: its payload spooled
 * while it downloads, or a copy of its image for the swap. Nothing is written to the replica;
 * the engine retries, and resumes once there is room.
 */
export class InsufficientDiskSpaceError extends SyndDBError {
  override name = 'InsufficientDiskSpaceError';
  declare readonly code: 'INSUFFICIENT_DISK_SPACE';
  override readonly kind = 'unavailable';
  readonly needed: number;
  readonly available: number;
  constructor(what: string, directory: string, needed: number, available: number) {
    super('INSUFFICIENT_DISK_SPACE', `Not enough free disk space for ${what}`, {
      details: `${directory}: ${available} bytes free, ${needed} needed (including the reserve)`,
    });
    this.needed = needed;
    this.available = available;
  }
}
