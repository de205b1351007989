import { describe, expect, it } from 'vitest';
import {
  batchSigningDigest,
  batchSigningPayload,
  buildSigStructure,
  computeContentHash,
  decodeBatch,
  decodeBatchBlob,
  decodeChangesetBatchRequest,
  decodeCoseSign1,
  decodePayload,
  decodeProtectedHeader,
  decodeSnapshotRequest,
  decodeWithdrawalRequest,
  encodeBatch,
  encodeChangesetBatchRequest,
  encodeCoseSign1,
  encodeProtectedHeader,
  encodeSnapshotRequest,
  encodeWithdrawalRequest,
  formatBatchFilename,
  isNormalizedProtectedHeader,
  keccak256,
  MessageType,
  messageSigningDigest,
  parseBatch,
  parseBatchFilename,
  sha256,
  signedMessageFromCose,
  zstdDecompress,
} from '../src/index';
import { ANVIL0_PUBKEY, hex, toHex, vectors } from './vectors';

const v1 = vectors.v1_cose_message;
const v2 = vectors.v2_batch_single;
const v3 = vectors.v3_batch_three;
const v4 = vectors.v4_pipeline;
const v5 = vectors.v5_edge;

describe('hashes', () => {
  it('keccak256 is Ethereum keccak, not SHA3', () => {
    expect(toHex(keccak256(new Uint8Array(0)))).toBe(
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
    expect(toHex(keccak256(hex(v1.sig_structure)))).toBe(v1.keccak256_sig_structure);
  });
  it('sha256 matches the content hash of V2', () => {
    expect(toHex(sha256(hex(v1.cose_sign1)))).toBe(v2.content_hash_sha256);
    expect(sha256(new Uint8Array(0))).toBeInstanceOf(Uint8Array);
  });
});

describe('V1 COSE message', () => {
  const raw = hex(v1.cose_sign1);

  it('decodes every field, keeping the original protected bytes', () => {
    const c = decodeCoseSign1(raw);
    expect(toHex(c.protectedBytes)).toBe(v1.protected_header);
    expect(c.header).toEqual({ alg: -47, sequence: 42n, timestamp: 1700000000n, messageType: 0 });
    expect(c.pubkey).toEqual(ANVIL0_PUBKEY);
    expect(Buffer.from(c.payload).toString()).toBe(v1.inputs.payload_utf8);
    expect(toHex(c.signature)).toBe(v1.signature);
    expect(c.raw).toBe(raw);
  });

  it('re-encodes header, Sig_structure, digest and COSE byte-identically', () => {
    const c = decodeCoseSign1(raw);
    expect(toHex(encodeProtectedHeader(c.header))).toBe(v1.protected_header);
    expect(toHex(buildSigStructure(c.protectedBytes, c.payload))).toBe(v1.sig_structure);
    expect(toHex(messageSigningDigest(c.protectedBytes, c.payload))).toBe(
      v1.keccak256_sig_structure,
    );
    expect(toHex(encodeCoseSign1(c))).toBe(v1.cose_sign1);
  });

  it('the unprotected header bytes are the ones in the vector', () => {
    expect(toHex(raw)).toContain(v1.unprotected_header);
  });

  it('maps to the Rust SignedMessage view with message_hash = keccak(payload)', () => {
    const m = signedMessageFromCose(decodeCoseSign1(raw));
    expect(toHex(m.messageHash)).toBe(v1.message_hash_keccak256_payload);
    expect(m.sequence).toBe(42n);
    expect(m.signer).toEqual(ANVIL0_PUBKEY);
    expect(toHex(m.coseProtectedHeader)).toBe(v1.protected_header);
  });

  it('the protected header is in coset-normalized form', () => {
    expect(isNormalizedProtectedHeader(hex(v1.protected_header))).toBe(true);
  });
});

describe('V2/V3 batches', () => {
  for (const [name, v, messages] of [
    ['V2', v2, [v1.cose_sign1]],
    ['V3', v3, v3.messages],
  ] as const) {
    it(`${name}: decodes, parses, and re-encodes byte-identically`, () => {
      const cbor = hex(v.batch_cbor);
      const batch = decodeBatch(cbor);
      expect(batch.messages.map(toHex)).toEqual(messages);
      expect(toHex(batch.contentHash)).toBe(v.content_hash_sha256);
      expect(toHex(batch.signature)).toBe(v.batch_signature);
      expect(batch.pubkey).toEqual(ANVIL0_PUBKEY);
      expect(batch.version).toBe(1);
      expect(batch.createdAt).toBe(1700000000n);
      expect(toHex(encodeBatch(batch))).toBe(v.batch_cbor);
      const parsed = parseBatch(batch);
      expect(parsed.parsedMessages.map((m) => m.header.sequence)).toEqual(
        messages.map((_: unknown, i: number) => batch.startSequence + BigInt(i)),
      );
    });

    it(`${name}: content hash and signing payload/digest`, () => {
      const batch = decodeBatch(hex(v.batch_cbor));
      expect(toHex(computeContentHash(batch.messages))).toBe(v.content_hash_sha256);
      expect(
        toHex(batchSigningPayload(batch.startSequence, batch.endSequence, batch.contentHash)),
      ).toBe(v.signing_payload_keccak);
      expect(
        toHex(batchSigningDigest(batch.startSequence, batch.endSequence, batch.contentHash)),
      ).toBe(toHex(keccak256(hex(v.signing_payload_keccak))));
    });
  }

  it('V2 double-keccak digest matches the vector', () => {
    expect(toHex(batchSigningDigest(42n, 42n, hex(v2.content_hash_sha256)))).toBe(
      v2.ecdsa_digest_keccak_of_signing_payload,
    );
  });

  it('V3 filename', () => {
    expect(formatBatchFilename(1n, 3n)).toBe(v3.filename);
    expect(parseBatchFilename(v3.filename)).toEqual({ start: 1n, end: 3n });
  });
});

describe('V4 realistic pipeline', () => {
  it('decodes the blob produced by the zstd CLI into a consistent batch', () => {
    const batch = decodeBatchBlob(hex(v4.batch_cbor_zstd));
    expect(toHex(encodeBatch(batch))).toBe(v4.batch_cbor);
    expect(batch.startSequence).toBe(0n);
    expect(batch.endSequence).toBe(2n);
    expect(batch.createdAt).toBe(1700000200n);
    expect(toHex(batch.contentHash)).toBe(v4.content_hash_sha256);
    expect(toHex(batch.signature)).toBe(v4.batch_signature);
    expect(toHex(batchSigningPayload(0n, 2n, batch.contentHash))).toBe(v4.signing_payload_keccak);
    expect(formatBatchFilename(batch.startSequence, batch.endSequence)).toBe(v4.filename);
    batch.parsedMessages.forEach((m, i) => {
      const vm = v4.messages[i];
      expect(toHex(m.raw)).toBe(vm.cose_sign1);
      expect(toHex(m.protectedBytes)).toBe(vm.protected_header);
      expect(m.header.sequence).toBe(BigInt(vm.sequence));
      expect(m.header.timestamp).toBe(BigInt(vm.timestamp));
      expect(m.header.messageType).toBe(vm.message_type);
      expect(toHex(m.payload)).toBe(vm.payload_zstd);
      expect(toHex(m.signature)).toBe(vm.signature);
      expect(toHex(signedMessageFromCose(m).messageHash)).toBe(vm.message_hash);
      expect(toHex(zstdDecompress(m.payload))).toBe(vm.payload_cbor);
      expect(toHex(zstdDecompress(m.payload, { implementation: 'js' }))).toBe(vm.payload_cbor);
    });
  });

  it('decodes and re-encodes each payload byte-identically', () => {
    const [c, w, s] = v4.messages;
    const changeset = decodeChangesetBatchRequest(hex(c.payload_cbor));
    expect(changeset).toEqual({
      batchId: 'batch-1',
      changesets: [
        { data: new Uint8Array(Buffer.from('test data')), sequence: 42n, timestamp: 1700000000n },
      ],
    });
    expect(toHex(encodeChangesetBatchRequest(changeset))).toBe(c.payload_cbor);

    const withdrawal = decodeWithdrawalRequest(hex(w.payload_cbor));
    expect(withdrawal).toEqual({
      requestId: 'w1',
      recipient: '0x742d35Cc6634C0532925a3b844Bc454e4438f44e',
      amount: '1000000000000000000',
      data: new Uint8Array(0),
    });
    expect(toHex(encodeWithdrawalRequest(withdrawal))).toBe(w.payload_cbor);

    const snapshot = decodeSnapshotRequest(hex(s.payload_cbor));
    expect(snapshot).toEqual({
      snapshot: {
        data: new Uint8Array(Buffer.from('SQLite format 3\0')),
        timestamp: 1700000000n,
        sequence: 100n,
      },
      messageId: 'snap-1',
      attestationToken: 'token123',
    });
    expect(toHex(encodeSnapshotRequest(snapshot))).toBe(s.payload_cbor);
  });

  it('decodePayload dispatches on the header type', () => {
    const types = [MessageType.Changeset, MessageType.Withdrawal, MessageType.Snapshot];
    v4.messages.forEach((vm: { payload_zstd: string }, i: number) => {
      const p = decodePayload(types[i]!, hex(vm.payload_zstd));
      expect(p.type).toBe(types[i]);
    });
  });
});

describe('V5 edge encodings', () => {
  const cases = [
    [v5.protected_header_seq_2pow32_type2, 1n << 32n, 1700000000n, 2],
    [v5.protected_header_seq_0_ts_0_type0, 0n, 0n, 0],
    [v5.protected_header_seq_u64max, (1n << 64n) - 1n, 1700000000n, 1],
  ] as const;
  for (const [bytes, sequence, timestamp, messageType] of cases) {
    it(`header seq=${sequence} ts=${timestamp} type=${messageType}`, () => {
      const h = decodeProtectedHeader(hex(bytes));
      expect(h).toEqual({ alg: -47, sequence, timestamp, messageType });
      expect(toHex(encodeProtectedHeader(h))).toBe(bytes);
      expect(isNormalizedProtectedHeader(hex(bytes))).toBe(true);
    });
  }

  it('COSE with an empty payload', () => {
    const c = decodeCoseSign1(hex(v5.cose_empty_payload_seq_2pow32));
    expect(c.payload.length).toBe(0);
    expect(c.header.sequence).toBe(1n << 32n);
    expect(toHex(encodeCoseSign1(c))).toBe(v5.cose_empty_payload_seq_2pow32);
  });
});
