import { bytesToHex, hexToBytes } from '@synddb/protocol';
import type { OutboxEnqueueParameters, OutboxEntry } from '@synddb/state-store';
import { OutboxEntryError } from '../errors';
import type { StateAttestation } from './state-attestation-typed-data';

/** The outbox kind of state attestations (`@synddb/state-store`'s `_synddb_outbox.kind`). */
export const STATE_ATTESTATION_OUTBOX_KIND = 'state_attestation';

/**
 * The outbox entry that asks for an attestation of `attestation` (enqueue it in the apply
 * transaction; it is signed after the commit). Its id is `state:{sequence}` (one per sequence);
 * the body is JSON `{"sequence","state_root","message_hash"}`.
 */
export function stateAttestationOutboxEntry(
  attestation: StateAttestation,
): OutboxEnqueueParameters {
  const body = JSON.stringify({
    sequence: attestation.sequence.toString(),
    state_root: `0x${bytesToHex(attestation.stateRoot)}`,
    message_hash: `0x${bytesToHex(attestation.messageHash)}`,
  });
  return {
    messageId: `state:${attestation.sequence}`,
    sequence: attestation.sequence,
    kind: STATE_ATTESTATION_OUTBOX_KIND,
    body: new TextEncoder().encode(body),
  };
}

const HEX32 = /^0x[0-9a-f]{64}$/;

/** The attestation an outbox entry asks for; `OutboxEntryError` when its body is malformed. */
export function stateAttestationOfEntry(entry: OutboxEntry): StateAttestation {
  let parsed: { sequence?: unknown; state_root?: unknown; message_hash?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(entry.body));
  } catch (cause) {
    throw new OutboxEntryError('State attestation entry body is not JSON', String(cause));
  }
  const { sequence, state_root: root, message_hash: hash } = parsed;
  if (
    typeof sequence !== 'string' ||
    !/^\d{1,20}$/.test(sequence) ||
    BigInt(sequence) !== entry.sequence ||
    typeof root !== 'string' ||
    !HEX32.test(root) ||
    typeof hash !== 'string' ||
    !HEX32.test(hash)
  ) {
    throw new OutboxEntryError(
      'Malformed state attestation entry',
      `at sequence ${entry.sequence}`,
    );
  }
  return {
    sequence: entry.sequence,
    stateRoot: hexToBytes(root.slice(2))!,
    messageHash: hexToBytes(hash.slice(2))!,
  };
}

/** The JSON a signature API serves for a signed state attestation. */
export interface StateAttestationJson {
  /** u64 as a decimal string. */
  sequence: string;
  state_root: string;
  message_hash: string;
  /** `0x` + 130 hex, `r ‖ s ‖ v`, over the EIP-712 digest. */
  signature: string;
  /** Lowercase address. */
  signer: string;
  /** Unix seconds. */
  signed_at: number;
}

/** The JSON of a signed attestation entry; null while unsigned. */
export function toStateAttestationJson(entry: OutboxEntry): StateAttestationJson | null {
  if (entry.signature === null || entry.signer === null || entry.signedAt === null) return null;
  const a = stateAttestationOfEntry(entry);
  return {
    sequence: a.sequence.toString(),
    state_root: `0x${bytesToHex(a.stateRoot)}`,
    message_hash: `0x${bytesToHex(a.messageHash)}`,
    signature: entry.signature.toLowerCase(),
    signer: entry.signer.toLowerCase(),
    signed_at: Math.floor(entry.signedAt / 1000),
  };
}
