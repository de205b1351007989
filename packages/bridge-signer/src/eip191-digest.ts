import { keccak256 } from '@synddb/protocol';
import { BridgeSignerInputError } from './errors';

const EIP191_PREFIX = new TextEncoder().encode('\x19Ethereum Signed Message:\n32');

/**
 * EIP-191 `personal_sign` digest of a 32-byte hash:
 * `keccak256("\x19Ethereum Signed Message:\n32" || hash)`, OpenZeppelin's
 * `MessageHashUtils.toEthSignedMessageHash(bytes32)`.
 */
export function eip191Digest(hash: Uint8Array): Uint8Array {
  if (hash.length !== 32) {
    throw new BridgeSignerInputError('EIP-191 input must be 32 bytes', `got ${hash.length} bytes`);
  }
  const input = new Uint8Array(EIP191_PREFIX.length + 32);
  input.set(EIP191_PREFIX, 0);
  input.set(hash, EIP191_PREFIX.length);
  return keccak256(input);
}

/**
 * The digest a validator signs for a withdrawal: the EIP-191 digest of the raw 32-byte message id
 * (docs/protocol.md#bridge-digests, "Validator signature"; what `Bridge.signMessageWithSignature`
 * recovers from). No chain id, bridge address, recipient or amount is bound in: the sequencer's
 * signature covers content.
 */
export function withdrawalDigest(messageId: Uint8Array): Uint8Array {
  return eip191Digest(messageId);
}
