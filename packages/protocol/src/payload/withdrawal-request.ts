import { CborWriter } from '../cbor/cbor-writer';
import { decodeCbor } from '../cbor/decode-cbor';
import type { WithdrawalRequest } from '../types';
import { PayloadStruct } from './fields';

const KEYS = ['request_id', 'recipient', 'amount', 'data'] as const;

/**
 * Decodes a type-1 payload (docs/protocol.md#withdrawal-payload). Only types are checked here; the
 * recipient and amount formats are the bridge signer's business. A missing `data` is empty (serde
 * default).
 */
export function decodeWithdrawalRequest(cbor: Uint8Array): WithdrawalRequest {
  const s = new PayloadStruct(decodeCbor(cbor), 'WithdrawalRequest', KEYS);
  return {
    requestId: s.text('request_id'),
    recipient: s.text('recipient'),
    amount: s.text('amount'),
    data: s.bytesOrEmpty('data'),
  };
}

/** ciborium's bytes: map(4) request_id, recipient, amount, data (always written). */
export function encodeWithdrawalRequest(request: WithdrawalRequest): Uint8Array {
  return new CborWriter()
    .mapHeader(4)
    .text('request_id')
    .text(request.requestId)
    .text('recipient')
    .text(request.recipient)
    .text('amount')
    .text(request.amount)
    .text('data')
    .bytes(request.data)
    .finish();
}
