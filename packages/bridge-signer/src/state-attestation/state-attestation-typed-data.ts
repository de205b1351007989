import { bytesToHex } from '@synddb/protocol';
import { BridgeSignerInputError } from '../errors';

/** EIP-712 domain name of state attestations. */
export const STATE_ATTESTATION_DOMAIN_NAME = 'SyndDBStateAttestation';
/** EIP-712 domain version of state attestations. */
export const STATE_ATTESTATION_DOMAIN_VERSION = '1';
/** The EIP-712 type: `StateAttestation(uint64 sequence,bytes32 stateRoot,bytes32 messageHash)`. */
export const STATE_ATTESTATION_TYPES = {
  StateAttestation: [
    { name: 'sequence', type: 'uint64' },
    { name: 'stateRoot', type: 'bytes32' },
    { name: 'messageHash', type: 'bytes32' },
  ],
} as const;

/** What binds an attestation to one deployment: the Bridge's chain and address. */
export interface StateAttestationDomain {
  chainId: bigint;
  /** The Bridge contract (`0x` + 40 hex). */
  verifyingContract: string;
}

/** What a validator attests: its replica's state root after `sequence`, and that message's hash. */
export interface StateAttestation {
  sequence: bigint;
  /** 32 bytes: the LtHash16 state root (`@synddb/applier`). */
  stateRoot: Uint8Array;
  /** 32 bytes: the protocol's `message_hash` of the message at `sequence` (keccak256 of its signed payload). */
  messageHash: Uint8Array;
}

const U64_MAX = (1n << 64n) - 1n;

/** The EIP-712 typed data (domain, types, value) of an attestation, as ethers and wallets take it. */
export function stateAttestationTypedData(
  domain: StateAttestationDomain,
  attestation: StateAttestation,
): {
  domain: { name: string; version: string; chainId: bigint; verifyingContract: string };
  types: typeof STATE_ATTESTATION_TYPES;
  primaryType: 'StateAttestation';
  value: { sequence: bigint; stateRoot: string; messageHash: string };
} {
  if (!/^0x[0-9a-fA-F]{40}$/.test(domain.verifyingContract)) {
    throw new BridgeSignerInputError('verifyingContract must be 0x + 40 hex');
  }
  if (domain.chainId < 0n) throw new BridgeSignerInputError('chainId must not be negative');
  if (attestation.sequence < 0n || attestation.sequence > U64_MAX) {
    throw new BridgeSignerInputError('sequence must be a u64', `got ${attestation.sequence}`);
  }
  for (const [name, bytes] of [
    ['stateRoot', attestation.stateRoot],
    ['messageHash', attestation.messageHash],
  ] as const) {
    if (bytes.length !== 32) {
      throw new BridgeSignerInputError(`${name} must be 32 bytes`, `got ${bytes.length} bytes`);
    }
  }
  return {
    domain: {
      name: STATE_ATTESTATION_DOMAIN_NAME,
      version: STATE_ATTESTATION_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract.toLowerCase(),
    },
    types: STATE_ATTESTATION_TYPES,
    primaryType: 'StateAttestation',
    value: {
      sequence: attestation.sequence,
      stateRoot: `0x${bytesToHex(attestation.stateRoot)}`,
      messageHash: `0x${bytesToHex(attestation.messageHash)}`,
    },
  };
}

/** Computes EIP-712 digests of state attestations (ethers' `TypedDataEncoder`). */
export interface StateAttestationHasher {
  /** The 32-byte EIP-712 digest `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(attestation))`. */
  digest(domain: StateAttestationDomain, attestation: StateAttestation): Uint8Array;
}

/**
 * Loads ethers (on first use only: validators without state attestations never load it) and
 * returns a hasher built on its `TypedDataEncoder`.
 */
export async function loadStateAttestationHasher(): Promise<StateAttestationHasher> {
  const { TypedDataEncoder, getBytes } = await import('ethers');
  return {
    digest(domain, attestation) {
      const typed = stateAttestationTypedData(domain, attestation);
      return getBytes(
        TypedDataEncoder.hash(
          typed.domain,
          { StateAttestation: [...typed.types.StateAttestation] },
          typed.value,
        ),
      );
    },
  };
}
