import { secp256k1 } from '@noble/curves/secp256k1.js';
import { eip191Digest } from '@synddb/bridge-signer';
import {
  decodeBatchBlob,
  decodeChangesetBatchRequest,
  decodeSnapshotRequest,
  decodeWithdrawalRequest,
  encodeChangesetBatchRequest,
  encodeSnapshotRequest,
  encodeWithdrawalRequest,
  hexToBytes,
  keccak256,
  MessageType,
  zstdDecompress,
} from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { ANVIL0_PUBKEY, postCbor, startSequencer } from '../test-support';
import { createDevnetSequencer } from './create-devnet-sequencer';

const changesetRequest = encodeChangesetBatchRequest({
  batchId: 'batch-1',
  changesets: [
    { data: new TextEncoder().encode('test data'), sequence: 42n, timestamp: 1700000000n },
  ],
});
const withdrawal = {
  requestId: 'req-1',
  recipient: '0x742d35Cc6634C0532925a3b844Bc454e4438f44e',
  amount: '1000000000000000000',
  data: new Uint8Array(0),
};

describe('ingestion API', () => {
  it('sequences a changeset from 0 and answers 201 with the receipt fields', async () => {
    const seq = await startSequencer({ clock: () => 1_700_000_123_456 });
    const response = await postCbor(`${seq.url}/changesets`, changesetRequest);
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await response.text();
    expect(Object.keys(JSON.parse(text))).toEqual([
      'sequence',
      'timestamp',
      'message_hash',
      'signature',
      'signer',
    ]);
    const receipt = JSON.parse(text) as Record<string, unknown>;
    expect(receipt.sequence).toBe(0);
    expect(receipt.timestamp).toBe(1_700_000_123);
    expect(receipt.signer).toBe(`0x${ANVIL0_PUBKEY}`);
    expect(receipt.signature).toMatch(/^0x[0-9a-f]{128}$/);
    expect(receipt.message_hash).toMatch(/^0x[0-9a-f]{64}$/);

    // The stored message carries the re-encoded payload under the receipt's hash and signature.
    seq.flush();
    const batch = decodeBatchBlob(seq.storage.get(0n)!.blob);
    const message = batch.parsedMessages[0]!;
    expect(message.header).toMatchObject({
      sequence: 0n,
      timestamp: 1_700_000_123n,
      messageType: MessageType.Changeset,
    });
    expect(`0x${Buffer.from(keccak256(message.payload)).toString('hex')}`).toBe(
      receipt.message_hash,
    );
    expect(`0x${Buffer.from(message.signature).toString('hex')}`).toBe(receipt.signature);
    expect(zstdDecompress(message.payload)).toEqual(changesetRequest);
    expect(decodeChangesetBatchRequest(zstdDecompress(message.payload)).batchId).toBe('batch-1');
  });

  it('re-serializes the request: payload CBOR is the protocol encoding, not the client bytes', async () => {
    const seq = await startSequencer();
    const request = {
      snapshot: {
        data: new TextEncoder().encode('SQLite format 3\0'),
        timestamp: 1700000000n,
        sequence: 100n,
      },
      messageId: 'snap-1',
      attestationToken: 'token123',
    };
    const response = await postCbor(`${seq.url}/snapshots`, encodeSnapshotRequest(request));
    expect(response.status).toBe(201);
    seq.flush();
    const payload = zstdDecompress(
      decodeBatchBlob(seq.storage.get(0n)!.blob).parsedMessages[0]!.payload,
    );
    // V4 snapshot payload of docs/protocol.md#wire-format-vectors.
    expect(Buffer.from(payload).toString('hex')).toBe(
      'a368736e617073686f74a364646174615053514c69746520666f726d61742033006974696d657374616d701a6553f1006873657175656e636518646a6d6573736167655f696466736e61702d31716174746573746174696f6e5f746f6b656e68746f6b656e313233',
    );
    expect(decodeSnapshotRequest(payload).messageId).toBe('snap-1');
  });

  it('accepts content types that start with application/cbor', async () => {
    const seq = await startSequencer();
    const response = await postCbor(
      `${seq.url}/changesets`,
      changesetRequest,
      'application/cbor; charset=binary',
    );
    expect(response.status).toBe(201);
  });

  it.each([
    ['/changesets', 'application/json'],
    ['/snapshots', 'text/plain'],
    ['/withdrawals', ''],
  ])('answers 415 text on %s with content type %j', async (route, contentType) => {
    const seq = await startSequencer();
    const response = await fetch(`${seq.url}${route}`, {
      method: 'POST',
      headers: contentType === '' ? {} : { 'content-type': contentType },
      body: changesetRequest as Uint8Array<ArrayBuffer>,
    });
    expect(response.status).toBe(415);
    expect(await response.text()).toBe('Expected Content-Type: application/cbor');
    expect(seq.sequencer.nextSequence).toBe(0n);
  });

  it.each([
    ['garbage', Uint8Array.of(0xff, 0x00, 0x13)],
    ['truncated', changesetRequest.subarray(0, changesetRequest.length - 3)],
    ['wrong struct', encodeWithdrawalRequest(withdrawal)],
    ['empty body', new Uint8Array(0)],
  ])('answers 400 "Invalid CBOR: …" for a %s body and sequences nothing', async (_name, body) => {
    const seq = await startSequencer();
    const response = await postCbor(`${seq.url}/changesets`, body);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/^Invalid CBOR: .+/);
    expect(seq.sequencer.nextSequence).toBe(0n);
  });

  it('answers 400 for a body over the configured limit', async () => {
    const seq = await startSequencer({ maxBodyBytes: 1024 });
    const big = encodeChangesetBatchRequest({
      batchId: 'big',
      changesets: [{ data: new Uint8Array(2000), sequence: 0n, timestamp: 0n }],
    });
    const response = await postCbor(`${seq.url}/changesets`, big);
    expect(response.status).toBe(400);
    expect(await response.text()).toBe(
      'Invalid CBOR: request body exceeds the limit of 1024 bytes',
    );
    expect((await postCbor(`${seq.url}/changesets`, changesetRequest)).status).toBe(201);
  });

  it('answers a withdrawal with the COSE receipt and a bridge signature', async () => {
    const seq = await startSequencer();
    const response = await postCbor(`${seq.url}/withdrawals`, encodeWithdrawalRequest(withdrawal));
    expect(response.status).toBe(201);
    const text = await response.text();
    const receipt = JSON.parse(text) as Record<string, unknown> & {
      bridge_signature: Record<string, unknown>;
    };
    expect(Object.keys(receipt)).toEqual([
      'sequence',
      'timestamp',
      'message_hash',
      'cose_signature',
      'signer',
      'bridge_signature',
    ]);
    expect(Object.keys(receipt.bridge_signature)).toEqual([
      'message_id',
      'message_hash',
      'signature',
      'signer',
      'sequence',
      'timestamp',
    ]);
    const bridge = receipt.bridge_signature;
    // keccak("req-1"), docs/protocol.md#bridge-vectors.
    expect(bridge.message_id).toBe(
      '0x5521a70e306e4cf143fc3b54739d4053a40cc9765dbc2f1d2c86a2ea55e5dfe0',
    );
    expect(bridge.signer).toBe('0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266');
    expect(bridge.sequence).toBe(receipt.sequence);
    expect(bridge.timestamp).toBe(receipt.timestamp);
    const sig = hexToBytes((bridge.signature as string).slice(2))!;
    expect(sig.length).toBe(65);
    expect([27, 28]).toContain(sig[64]);
    // ecrecover over the EIP-191 digest yields the sequencer's key.
    const digest = eip191Digest(hexToBytes((bridge.message_hash as string).slice(2))!);
    const recovered = secp256k1.Signature.fromBytes(sig.subarray(0, 64), 'compact')
      .addRecoveryBit(sig[64]! - 27)
      .recoverPublicKey(digest)
      .toBytes(false);
    expect(Buffer.from(recovered.subarray(1)).toString('hex')).toBe(ANVIL0_PUBKEY);

    seq.flush();
    const message = decodeBatchBlob(seq.storage.get(0n)!.blob).parsedMessages[0]!;
    expect(message.header.messageType).toBe(MessageType.Withdrawal);
    expect(decodeWithdrawalRequest(zstdDecompress(message.payload))).toEqual(withdrawal);
  });

  it.each([
    ['an empty request_id', { requestId: '' }, /request_id/],
    ['an odd-length hex request_id', { requestId: 'abc' }, /odd number of digits/],
    ['an odd-length 0x hex request_id', { requestId: `0x${'a'.repeat(65)}` }, /odd number/],
    ['a short recipient', { recipient: '0x742d35Cc' }, /recipient/],
    [
      'a recipient without 0x',
      { recipient: '742d35Cc6634C0532925a3b844Bc454e4438f44e00' },
      /recipient/,
    ],
    [
      'a non-hex recipient',
      { recipient: '0x742d35Cc6634C0532925a3b844Bc454e4438f44g' },
      /recipient/,
    ],
    ['a negative amount', { amount: '-1' }, /amount/],
    ['a leading-zero amount', { amount: '01' }, /amount/],
    ['a decimal amount', { amount: '1.5' }, /amount/],
    ['an empty amount', { amount: '' }, /amount/],
    ['an amount over u128', { amount: (1n << 128n).toString() }, /u128/],
  ])('answers 400 JSON for %s', async (_name, change, pattern) => {
    const seq = await startSequencer();
    const response = await postCbor(
      `${seq.url}/withdrawals`,
      encodeWithdrawalRequest({ ...withdrawal, ...change }),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: string };
    expect(body.error).toMatch(pattern);
    expect(seq.sequencer.nextSequence).toBe(0n);
  });

  it('sets x-request-id on every response and propagates the client one', async () => {
    const seq = await startSequencer();
    const generated = await fetch(`${seq.url}/health`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const propagated = await postCbor(`${seq.url}/changesets`, new Uint8Array(0), 'text/plain', {
      'x-request-id': 'client-id-1',
    });
    expect(propagated.headers.get('x-request-id')).toBe('client-id-1');
    const notFound = await fetch(`${seq.url}/storage/batches/7`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-request-id')).not.toBeNull();
  });

  it('serves /status, /health and /ready', async () => {
    const seq = await startSequencer();
    await postCbor(`${seq.url}/changesets`, changesetRequest);
    const status = await (await fetch(`${seq.url}/status`)).text();
    expect(JSON.parse(status)).toEqual({
      current_sequence: 1,
      signer_address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
      signer_pubkey: `0x${ANVIL0_PUBKEY}`,
    });
    const health = await fetch(`${seq.url}/health`);
    expect(await health.text()).toBe('OK');
    const ready = await fetch(`${seq.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: [{ name: 'sequencer', status: 'ok' }],
    });
  });

  it('reports a busy port as a typed error and can start elsewhere', async () => {
    const first = await startSequencer();
    const port = Number(new URL(first.url).port);
    const second = createDevnetSequencer();
    await expect(second.start({ port })).rejects.toMatchObject({ code: 'DEVNET_CONFIG' });
    const { url } = await second.start({ port: 0 });
    expect(await (await fetch(`${url}/health`)).text()).toBe('OK');
    await second.stop();
  });

  it('refuses submissions after stop and reports it in /ready', async () => {
    const seq = await startSequencer();
    await seq.stop();
    const response = await seq.app.request('/changesets', {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: changesetRequest as Uint8Array<ArrayBuffer>,
    });
    expect(response.status).toBe(503);
    const ready = await seq.app.request('/ready');
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('degraded');
  });
});
