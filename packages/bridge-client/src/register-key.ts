import { keccak256, toUtf8Bytes } from 'ethers';

/** `publicValues` is `abi.encode(PublicValuesStruct)`: 11 static words, 352 bytes. */
export const PUBLIC_VALUES_MIN_BYTES = 352;

/** The fields the relayer reads from `publicValues` (fixed 32-byte slots, docs/compatibility.md). */
export interface PublicValuesFields {
  /** Slot 3, bytes 96..128. */
  imageDigestHash: string;
  /** Slot 4, bytes 140..160: the TEE key being registered. */
  teeSigningKey: string;
  /** Slot 7, bytes 224..256: keccak256 of the attestation audience. */
  audienceHash: string;
}

/** Reads slots 3, 4 and 7 of `publicValues`; null when it is shorter than 352 bytes. */
export function readPublicValues(publicValues: Uint8Array): PublicValuesFields | null {
  if (publicValues.length < PUBLIC_VALUES_MIN_BYTES) return null;
  const hex = (from: number, to: number) =>
    `0x${Buffer.from(publicValues.subarray(from, to)).toString('hex')}`;
  return {
    imageDigestHash: hex(96, 128),
    teeSigningKey: hex(140, 160),
    audienceHash: hex(224, 256),
  };
}

/** How the relayer keys an application: `keccak256(utf8(audience))`. */
export function audienceHash(audience: string): string {
  return keccak256(toUtf8Bytes(audience));
}
