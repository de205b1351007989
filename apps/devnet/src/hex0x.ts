import { bytesToHex } from '@synddb/protocol';

/** `0x` + lowercase hex, the form every hash, signature and key takes in the JSON APIs. */
export function hex0x(bytes: Uint8Array): string {
  return `0x${bytesToHex(bytes)}`;
}
