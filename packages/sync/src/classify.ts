import type { HaltKind } from './types';

/**
 * Maps an error to a coarse halt kind by its stable `code`. Storage-level faults (network, missing
 * batches) are transient and retried before the engine reports a halt; everything else halts at once.
 */
export function classifyError(error: unknown): { code: string; kind: HaltKind; message: string } {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : 'INTERNAL';
  const message =
    error instanceof Error ? (error as Error & { shortMessage?: string }).message : String(error);
  return { code, kind: kindOf(code, error), message: message.split('\n')[0] ?? message };
}

const VERIFICATION = /SIGNATURE|SIGNER|PUBKEY|PUBLIC_KEY|HEADER_MISMATCH|CONTENT_HASH|UNTRUSTED/;
const DECODE =
  /CBOR|COSE|DECOMPRESS|ZSTD|PAYLOAD|TRAILING|DUPLICATE|INTEGER|MESSAGE_TYPE|ALGORITHM|BATCH_|SEQUENCE_NOT|CHANGESET_DECODE|CHANGESET_FORMAT|SNAPSHOT_INVALID|SNAPSHOT_FORMAT|LISTING|INVALID_LENGTH|STRUCTURE|TOO_LARGE|RANGE_MISMATCH|UNEXPECTED_SEQUENCE/;

function kindOf(code: string, error: unknown): HaltKind {
  if (code === 'SEQUENCE_GAP') return 'gap';
  if (code === 'SCHEMA_MISMATCH') return 'schema';
  if (code.includes('CONFLICT')) return 'conflict';
  if (VERIFICATION.test(code)) return 'verification';
  if (
    code === 'BATCH_UNAVAILABLE' ||
    code.startsWith('HTTP') ||
    code === 'INVALID_RESPONSE' ||
    code === 'FALLBACK_EXHAUSTED' ||
    code.startsWith('FETCH') ||
    code.startsWith('GCS') ||
    code.startsWith('FS_') ||
    code.includes('TIMEOUT') ||
    code.includes('SIZE_LIMIT')
  ) {
    return 'storage';
  }
  if (DECODE.test(code)) return 'decode';
  if (error instanceof TypeError && /fetch failed/.test(error.message)) return 'storage';
  return 'internal';
}

/** Transient kinds are retried `gapRetryCount` times before the engine reports a halt. */
export function isTransient(kind: HaltKind): boolean {
  return kind === 'gap' || kind === 'storage';
}
