import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { CborBatch, MessageType } from '@synddb/protocol';
import {
  batchSigningDigest,
  computeContentHash,
  decodeCoseSign1,
  encodeCoseSign1,
  encodeProtectedHeader,
  messageSigningDigest,
} from '@synddb/protocol';
import { InvalidPrivateKeyError, SignerInputError } from '../errors';
import { pubkeyToAddress } from '../keys/pubkey-to-address';

const ES256K = -47;
const BATCH_VERSION = 1;
// Deterministic RFC 6979 (HMAC-SHA256) over the keccak prehash, normalized to low-S: what k256 /
// alloy `sign_hash_sync` produce, so signatures are byte-identical to the Rust sequencer's.
const SIGN_OPTIONS = { prehash: false, lowS: true, format: 'compact' } as const;

export interface SignMessageParameters {
  sequence: bigint | number;
  timestamp: bigint | number;
  messageType: MessageType;
  /** The payload bytes as they go on the wire (normally zstd-compressed payload CBOR). */
  payload: Uint8Array;
}

export interface SignBatchParameters {
  /** Unix seconds of the flush (`t`, not signed). */
  createdAt: bigint | number;
  /**
   * Batch range. Default: the sequences of the first and last message. Given explicitly only to
   * build an empty or deliberately inconsistent batch in tests.
   */
  startSequence?: bigint | number;
  endSequence?: bigint | number;
}

export interface SequencerSigner {
  /** 64-byte X||Y public key. */
  readonly pubkey: Uint8Array;
  /** EIP-55 checksummed address of the key. */
  readonly address: string;
  /** A COSE_Sign1 message, byte-identical to what the Rust sequencer writes for these inputs. */
  signMessage(parameters: SignMessageParameters): Uint8Array;
  /**
   * A batch over raw COSE messages: content hash and double-keccak signature
   * (docs/protocol.md#batches).
   */
  signBatch(messages: readonly Uint8Array[], parameters: SignBatchParameters): CborBatch;
  /** Low-S r||s over an arbitrary 32-byte digest. */
  signDigest(digest: Uint8Array): Uint8Array;
}

/**
 * A sequencer-side signer for the devnet and tests. `privateKey` is 32 bytes or 64 hex characters
 * (optional 0x), a scalar in [1, n-1].
 */
export function createSequencerSigner(privateKey: Uint8Array | string): SequencerSigner {
  const secretKey = parsePrivateKey(privateKey);
  const pubkey = secp256k1.getPublicKey(secretKey, false).slice(1);
  const signDigest = (digest: Uint8Array): Uint8Array => {
    if (digest.length !== 32)
      throw new SignerInputError(`digest must be 32 bytes, got ${digest.length}`);
    return secp256k1.sign(digest, secretKey, SIGN_OPTIONS);
  };

  return {
    pubkey: pubkey.slice(),
    address: pubkeyToAddress(pubkey),
    signDigest,
    signMessage({ sequence, timestamp, messageType, payload }) {
      const protectedBytes = encodeProtectedHeader({
        alg: ES256K,
        sequence: BigInt(sequence),
        timestamp: BigInt(timestamp),
        messageType,
      });
      const signature = signDigest(messageSigningDigest(protectedBytes, payload));
      return encodeCoseSign1({ protectedBytes, pubkey, payload, signature });
    },
    signBatch(messages, parameters) {
      const startSequence = BigInt(
        parameters.startSequence ?? sequenceOf(messages[0], 'startSequence'),
      );
      const endSequence = BigInt(
        parameters.endSequence ?? sequenceOf(messages[messages.length - 1], 'endSequence'),
      );
      const contentHash = computeContentHash(messages);
      return {
        version: BATCH_VERSION,
        startSequence,
        endSequence,
        createdAt: BigInt(parameters.createdAt),
        contentHash,
        messages: [...messages],
        signature: signDigest(batchSigningDigest(startSequence, endSequence, contentHash)),
        pubkey: pubkey.slice(),
      };
    },
  };
}

function sequenceOf(message: Uint8Array | undefined, field: string): bigint {
  if (message === undefined) {
    throw new SignerInputError(`an empty batch needs an explicit ${field}`);
  }
  return decodeCoseSign1(message).header.sequence;
}

function parsePrivateKey(input: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    const hex = input.startsWith('0x') || input.startsWith('0X') ? input.slice(2) : input;
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new InvalidPrivateKeyError(
        `private key must be 64 hex characters, got ${hex.length} characters`,
      );
    }
    bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  } else {
    if (input.length !== 32)
      throw new InvalidPrivateKeyError(`private key must be 32 bytes, got ${input.length}`);
    bytes = input.slice();
  }
  if (!secp256k1.utils.isValidSecretKey(bytes)) {
    throw new InvalidPrivateKeyError('private key is not a scalar in [1, n-1]');
  }
  return bytes;
}
