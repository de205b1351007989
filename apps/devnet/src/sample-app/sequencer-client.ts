import {
  type ChangesetBatchRequest,
  encodeChangesetBatchRequest,
  encodeSnapshotRequest,
  encodeWithdrawalRequest,
  type SnapshotRequest,
  type WithdrawalRequest,
} from '@synddb/protocol';
import { SequencerResponseError } from '../errors';

/** The 201 body of `POST /changesets` and `/snapshots`. */
export interface ReceiptJson {
  sequence: number;
  timestamp: number;
  message_hash: string;
  signature: string;
  signer: string;
}

/** The 201 body of `POST /withdrawals`. */
export interface WithdrawalReceiptJson {
  sequence: number;
  timestamp: number;
  message_hash: string;
  cose_signature: string;
  signer: string;
  bridge_signature: {
    message_id: string;
    message_hash: string;
    signature: string;
    signer: string;
    sequence: number;
    timestamp: number;
  };
}

/** The body of `GET /status`. */
export interface SequencerStatusJson {
  current_sequence: number;
  signer_address: string;
  signer_pubkey: string;
}

export interface SequencerClient {
  readonly baseUrl: string;
  postChangesets(request: ChangesetBatchRequest): Promise<ReceiptJson>;
  postSnapshot(request: SnapshotRequest): Promise<ReceiptJson>;
  postWithdrawal(request: WithdrawalRequest): Promise<WithdrawalReceiptJson>;
  status(): Promise<SequencerStatusJson>;
}

/**
 * A minimal SyndDB client transport: CBOR requests to a sequencer's ingestion API, the way
 * synddb-client sends them. Any non-201 answer becomes a `SequencerResponseError`.
 */
export function createSequencerClient(baseUrl: string): SequencerClient {
  const base = baseUrl.replace(/\/+$/, '');

  async function post(route: string, body: Uint8Array): Promise<Record<string, unknown>> {
    const response = await fetch(`${base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: body as Uint8Array<ArrayBuffer>,
    });
    const text = await response.text();
    if (response.status !== 201)
      throw new SequencerResponseError(`POST ${route}`, response.status, text);
    return parseObject(`POST ${route}`, response.status, text, ['sequence', 'timestamp', 'signer']);
  }

  return {
    baseUrl: base,
    postChangesets: async (request) =>
      (await post('/changesets', encodeChangesetBatchRequest(request))) as unknown as ReceiptJson,
    postSnapshot: async (request) =>
      (await post('/snapshots', encodeSnapshotRequest(request))) as unknown as ReceiptJson,
    postWithdrawal: async (request) =>
      (await post(
        '/withdrawals',
        encodeWithdrawalRequest(request),
      )) as unknown as WithdrawalReceiptJson,
    async status() {
      const response = await fetch(`${base}/status`);
      const text = await response.text();
      if (!response.ok) throw new SequencerResponseError('GET /status', response.status, text);
      return parseObject('GET /status', response.status, text, [
        'current_sequence',
        'signer_pubkey',
      ]) as unknown as SequencerStatusJson;
    },
  };
}

function parseObject(
  route: string,
  status: number,
  text: string,
  required: readonly string[],
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SequencerResponseError(route, status, `body is not JSON: ${text}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SequencerResponseError(route, status, `body is not a JSON object: ${text}`);
  }
  const obj = value as Record<string, unknown>;
  for (const key of required) {
    if (!(key in obj))
      throw new SequencerResponseError(route, status, `body lacks "${key}": ${text}`);
  }
  return obj;
}
