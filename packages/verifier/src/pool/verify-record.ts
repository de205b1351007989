import { DIGEST_BYTES, PUBKEY_BYTES, SIGNATURE_BYTES } from '../backend/signature-rules';

/**
 * The layout of one signature check as it crosses to a pool worker, packed with others in one
 * transferred buffer: signature r||s | digest | pubkey X||Y.
 */
export const DIGEST_OFFSET = SIGNATURE_BYTES;
export const PUBKEY_OFFSET = SIGNATURE_BYTES + DIGEST_BYTES;
export const RECORD_BYTES = PUBKEY_OFFSET + PUBKEY_BYTES;
