import { bytesToHex } from '@synddb/protocol';
import type { OutboxEntry, StateStore } from '@synddb/state-store';
import { recoverSignerAddress } from '../address';
import { BridgeSignatureError } from '../errors';
import { signOutboxEntries } from '../sign-outbox-entries';
import type { BridgeSignerKey } from '../signer-key';
import { STATE_ATTESTATION_OUTBOX_KIND, stateAttestationOfEntry } from './state-attestation-outbox';
import {
  loadStateAttestationHasher,
  type StateAttestation,
  type StateAttestationDomain,
  type StateAttestationHasher,
} from './state-attestation-typed-data';

const MAX_ERROR_LENGTH = 1000;

export interface CreateStateAttestationSignerOptions {
  state: StateStore;
  key: BridgeSignerKey;
  domain: StateAttestationDomain;
  /** Entries read per query. Default 256. */
  batchSize?: number;
  onSigned?: (event: { sequence: bigint; signature: string }) => void;
  onError?: (event: { sequence: bigint; error: Error }) => void;
}

export interface StateAttestationSigner {
  /** Signs every unsigned attestation in the outbox, persisting each signature; failures are recorded and retried on the next call. */
  signPending(): { signed: number; failed: number };
}

/**
 * Signs one attestation: EIP-712 digest, 65-byte `r ‖ s ‖ v`, checked to recover to the key's
 * address before it is returned.
 */
export function signStateAttestation(
  hasher: StateAttestationHasher,
  key: BridgeSignerKey,
  domain: StateAttestationDomain,
  attestation: StateAttestation,
): { signature: `0x${string}`; signer: `0x${string}` } {
  const digest = hasher.digest(domain, attestation);
  const signature = key.sign(digest);
  const recovered = recoverSignerAddress(digest, signature);
  if (recovered.toLowerCase() !== key.address.toLowerCase()) {
    throw new BridgeSignatureError('Signature does not recover to the signer address', {
      details: `recovered ${recovered}, expected ${key.address}`,
    });
  }
  return { signature: `0x${bytesToHex(signature)}`, signer: key.address };
}

/**
 * Signs the state attestations queued in the outbox (kind `state_attestation`) after their apply
 * transaction committed, and persists each signature in the replica. Loads ethers once.
 */
export async function createStateAttestationSigner(
  options: CreateStateAttestationSignerOptions,
): Promise<StateAttestationSigner> {
  const { state, key, domain, onSigned, onError } = options;
  const batchSize = options.batchSize ?? 256;
  const hasher = await loadStateAttestationHasher();

  const signEntry = (entry: OutboxEntry): boolean => {
    let signed: ReturnType<typeof signStateAttestation>;
    try {
      signed = signStateAttestation(hasher, key, domain, stateAttestationOfEntry(entry));
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      state.recordSigningError(entry.messageId, error.message.slice(0, MAX_ERROR_LENGTH));
      onError?.({ sequence: entry.sequence, error });
      return false;
    }
    state.recordSignature(entry.messageId, signed);
    onSigned?.({ sequence: entry.sequence, signature: signed.signature });
    return true;
  };

  return {
    signPending() {
      return signOutboxEntries(
        (limit) => state.unsignedOfKind(STATE_ATTESTATION_OUTBOX_KIND, limit),
        signEntry,
        batchSize,
      );
    },
  };
}
