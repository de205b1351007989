import { hex0x } from '../hex0x';
import type { MessageReceipt, WithdrawalReceipt } from '../sequencer/message-sequencer';

/**
 * 201 body of `POST /changesets` and `POST /snapshots` (docs/protocol.md#sequencer-ingestion-api).
 */
export function messageReceiptJson(receipt: MessageReceipt): Record<string, unknown> {
  return {
    sequence: receipt.sequence,
    timestamp: receipt.timestamp,
    message_hash: hex0x(receipt.messageHash),
    signature: hex0x(receipt.signature),
    signer: hex0x(receipt.signer),
  };
}

/**
 * 201 body of `POST /withdrawals`, with the bridge signature
 * (docs/protocol.md#sequencer-ingestion-api).
 */
export function withdrawalReceiptJson(receipt: WithdrawalReceipt): Record<string, unknown> {
  const bridge = receipt.bridgeSignature;
  return {
    sequence: receipt.sequence,
    timestamp: receipt.timestamp,
    message_hash: hex0x(receipt.messageHash),
    cose_signature: hex0x(receipt.signature),
    signer: hex0x(receipt.signer),
    bridge_signature: {
      message_id: hex0x(bridge.messageId),
      message_hash: hex0x(bridge.messageHash),
      signature: hex0x(bridge.signature),
      signer: bridge.signer,
      sequence: bridge.sequence,
      timestamp: bridge.timestamp,
    },
  };
}
