import { hexToBytes } from '@synddb/protocol';
import type { OutboxEntry, StateStore } from '@synddb/state-store';
import { BridgeSignerInputError, OutboxEntryError } from './errors';
import { signOutboxEntries } from './sign-outbox-entries';
import { signWithdrawal } from './sign-withdrawal';
import type { BridgeSignerKey } from './signer-key';
import { WITHDRAWAL_OUTBOX_KIND } from './withdrawal-outbox-entry';

const MESSAGE_ID = /^0x[0-9a-f]{64}$/;
/** Stored error texts are for operators; keep a hostile or huge message from bloating the row. */
const MAX_ERROR_LENGTH = 1000;

export interface OutboxSignedEvent {
  messageId: string;
  sequence: bigint;
  signature: string;
  signer: string;
}

export interface OutboxErrorEvent {
  messageId: string;
  sequence: bigint;
  error: Error;
}

export interface CreateOutboxSignerOptions {
  /** The replica's state store (its outbox is filled in the apply transactions). */
  state: StateStore;
  key: BridgeSignerKey;
  /** Entries read per query. Default 256. */
  batchSize?: number;
  /** Called after a signature is persisted. Exceptions propagate out of `signPending`. */
  onSigned?: (event: OutboxSignedEvent) => void;
  /** Called after a failure is recorded. Exceptions propagate out of `signPending`. */
  onError?: (event: OutboxErrorEvent) => void;
}

export interface OutboxSigner {
  /**
   * Signs every unsigned withdrawal in the outbox and persists each signature. Entries whose
   * signing fails keep no signature, get the error recorded and are tried again on the next call;
   * every entry is tried at most once per call, so the call always ends. Storage errors propagate.
   */
  signPending(): { signed: number; failed: number };
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function messageIdBytes(entry: OutboxEntry): Uint8Array {
  if (!MESSAGE_ID.test(entry.messageId)) {
    throw new OutboxEntryError(
      'Outbox message id is not 0x + 64 lowercase hex',
      `got ${JSON.stringify(entry.messageId.slice(0, 80))} at sequence ${entry.sequence}`,
    );
  }
  return hexToBytes(entry.messageId.slice(2))!;
}

/**
 * Signs committed withdrawals: reads unsigned `withdrawal` entries from the outbox (written in the
 * apply transaction, so only committed state is ever signed), signs each message id, verifies the
 * signature recovers to the key's address, and persists it with `recordSignature`. Entries of
 * other kinds are left alone.
 */
export function createOutboxSigner(options: CreateOutboxSignerOptions): OutboxSigner {
  const { state, key, onSigned, onError } = options;
  const batchSize = options.batchSize ?? 256;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new BridgeSignerInputError(
      'batchSize must be a positive integer',
      `got ${String(batchSize)}`,
    );
  }

  function signEntry(entry: OutboxEntry): boolean {
    let signed: ReturnType<typeof signWithdrawal>;
    try {
      signed = signWithdrawal(key, messageIdBytes(entry));
    } catch (caught) {
      const error = toError(caught);
      state.recordSigningError(entry.messageId, error.message.slice(0, MAX_ERROR_LENGTH));
      onError?.({ messageId: entry.messageId, sequence: entry.sequence, error });
      return false;
    }
    state.recordSignature(entry.messageId, { signature: signed.signature, signer: signed.signer });
    onSigned?.({
      messageId: entry.messageId,
      sequence: entry.sequence,
      signature: signed.signature,
      signer: signed.signer,
    });
    return true;
  }

  return {
    signPending() {
      // other kinds of entries (state attestations) are left to their own signers
      return signOutboxEntries(
        (limit) => state.unsigned(limit),
        (entry) => (entry.kind === WITHDRAWAL_OUTBOX_KIND ? signEntry(entry) : undefined),
        batchSize,
      );
    },
  };
}
