import { eip191Digest, signRecoverable, withdrawalMessageHash } from '@synddb/bridge-signer';
import {
  type ChangesetBatchRequest,
  encodeChangesetBatchRequest,
  encodeSnapshotRequest,
  encodeWithdrawalRequest,
  keccak256,
  MessageType,
  type SnapshotRequest,
  type WithdrawalRequest,
  zstdCompress,
} from '@synddb/protocol';
import type { SequencerSigner } from '@synddb/verifier';
import { SequencerStoppedError } from '../errors';
import type { Batcher } from './batcher';
import { validateWithdrawal } from './validate-withdrawal';

/** What the sequencer hands back for every sequenced message (before JSON). */
export interface MessageReceipt {
  sequence: bigint;
  /** Unix seconds assigned by the sequencer. */
  timestamp: bigint;
  messageType: MessageType;
  /** keccak256 of the compressed payload. */
  messageHash: Uint8Array;
  /** 64-byte r||s COSE signature. */
  signature: Uint8Array;
  /** 64-byte X||Y signer key. */
  signer: Uint8Array;
  /** The COSE_Sign1 bytes as they go into the batch. */
  cose: Uint8Array;
}

/** The bridge signature returned with a withdrawal receipt (docs/protocol.md#bridge-digests). */
export interface BridgeSignature {
  messageId: Uint8Array;
  messageHash: Uint8Array;
  /** 65-byte r||s||v, v = 27/28, over the EIP-191 digest of `messageHash`. */
  signature: Uint8Array;
  /** Lowercase `0x` address of the signing key. */
  signer: string;
  sequence: bigint;
  timestamp: bigint;
}

export interface WithdrawalReceipt extends MessageReceipt {
  bridgeSignature: BridgeSignature;
}

export interface MessageSequencerOptions {
  signer: SequencerSigner;
  /** The signer's 32-byte secret, for the recoverable bridge signature. */
  secretKey: Uint8Array;
  now: () => number;
  batcher: Batcher;
  /** First sequence to assign (0 on a fresh sequencer). */
  firstSequence?: bigint;
}

/**
 * The sequencing pipeline of docs/protocol.md#overview, steps 2-4: re-serialize the decoded request
 * with the protocol encoders, zstd level 3, assign sequence + timestamp, COSE-sign, hand to the
 * batcher.
 *
 * Steps from sequence assignment to enqueue run in one synchronous call, so no other request can
 * take a sequence in between: sequences are contiguous and batches are in order by construction.
 */
export class MessageSequencer {
  private next: bigint;
  private stopped = false;

  constructor(private readonly options: MessageSequencerOptions) {
    this.next = options.firstSequence ?? 0n;
  }

  /** The next sequence number to assign (`current_sequence` in `/status`). */
  get nextSequence(): bigint {
    return this.next;
  }

  submitChangesets(request: ChangesetBatchRequest): MessageReceipt {
    return this.sequence(MessageType.Changeset, encodeChangesetBatchRequest(request));
  }

  submitSnapshot(request: SnapshotRequest): MessageReceipt {
    return this.sequence(MessageType.Snapshot, encodeSnapshotRequest(request));
  }

  /** Validates (throws `IngestRequestError`), sequences and bridge-signs a withdrawal. */
  submitWithdrawal(request: WithdrawalRequest): WithdrawalReceipt {
    // Every check, the message id included, before the request takes a sequence.
    const { amount, messageId } = validateWithdrawal(request);
    const receipt = this.sequence(MessageType.Withdrawal, encodeWithdrawalRequest(request));
    const messageHash = withdrawalMessageHash(messageId, request.recipient, request.data, amount);
    return {
      ...receipt,
      bridgeSignature: {
        messageId,
        messageHash,
        signature: signRecoverable(eip191Digest(messageHash), this.options.secretKey),
        signer: this.options.signer.address.toLowerCase(),
        sequence: receipt.sequence,
        timestamp: receipt.timestamp,
      },
    };
  }

  /** After `stop`, every submission throws `SequencerStoppedError`. */
  stop(): void {
    this.stopped = true;
  }

  private sequence(messageType: MessageType, payloadCbor: Uint8Array): MessageReceipt {
    if (this.stopped) throw new SequencerStoppedError();
    const { signer, now, batcher } = this.options;
    const payload = zstdCompress(payloadCbor, 3);
    // From here to batcher.add nothing yields to the event loop: assignment + enqueue are atomic.
    const sequence = this.next;
    const timestamp = BigInt(Math.floor(now() / 1000));
    const cose = signer.signMessage({ sequence, timestamp, messageType, payload });
    this.next = sequence + 1n;
    batcher.add(sequence, cose);
    return {
      sequence,
      timestamp,
      messageType,
      messageHash: keccak256(payload),
      // The signature is the COSE array's last item, a 64-byte bstr: the final 64 bytes.
      signature: cose.slice(cose.length - 64),
      signer: signer.pubkey,
      cose,
    };
  }
}
