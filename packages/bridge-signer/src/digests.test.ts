import { bytesToHex, keccak256 } from '@synddb/protocol';
import { thrown } from '@synddb/test-support';
import { ethers } from 'ethers';
import { describe, expect, it } from 'vitest';
import vectors from '../test/fixtures/withdrawal-message-id.json' with { type: 'json' };
import { eip191Digest, withdrawalDigest } from './eip191-digest';
import { BridgeSignerInputError, WithdrawalMessageIdError } from './errors';
import { tryWithdrawalMessageId } from './try-withdrawal-message-id';
import { withdrawalMessageHash } from './withdrawal-message-hash';
import { withdrawalMessageId } from './withdrawal-message-id';

const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
const utf8 = new TextEncoder();

describe('bridge vectors (docs/protocol.md#bridge-vectors)', () => {
  it('EIP-191 digest of 32 x 0xab', () => {
    const id = new Uint8Array(32).fill(0xab);
    const expected = '0xe2ff0e36e69683e8cbb0159e90e7d319e743e22b0a37c17566b625eb25102fed';
    expect(hex(eip191Digest(id))).toBe(expected);
    expect(hex(withdrawalDigest(id))).toBe(expected);
    // Independent implementation: ethers' personal_sign hash of the 32 raw bytes.
    expect(ethers.hashMessage(id)).toBe(expected);
  });

  it('message id of a non-hex request_id is keccak of its UTF-8 bytes', () => {
    expect(hex(withdrawalMessageId('req-1'))).toBe(
      '0x5521a70e306e4cf143fc3b54739d4053a40cc9765dbc2f1d2c86a2ea55e5dfe0',
    );
    expect(hex(withdrawalMessageId('req-1'))).toBe(ethers.id('req-1'));
  });

  it('Bridge sequencer message hash and its EIP-191 digest', () => {
    const m = withdrawalMessageHash(
      new Uint8Array(32).fill(0x11),
      '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
      new Uint8Array(0),
      0n,
    );
    expect(hex(m)).toBe('0x9b8c46a280415591002aa832ea4b7959d75aac9e4a41b39a5d9899efe5c4a459');
    expect(hex(eip191Digest(m))).toBe(
      '0x5ddd1dea1f1e1d40373c22e5ad6213ac5c7e3bc5bc5ee22870a859cbccadcf2e',
    );
  });
});

describe('withdrawalMessageHash', () => {
  it('equals abi.encodePacked(bytes32, address, bytes32, uint256) hashed by ethers', () => {
    const id = withdrawalMessageId('withdraw-42');
    const recipient = '0x00000000000000000000000000000000deadbeef';
    const data = utf8.encode('payload bytes');
    const amount = (1n << 200n) + 12345n;
    const expected = ethers.solidityPackedKeccak256(
      ['bytes32', 'address', 'bytes32', 'uint256'],
      [id, recipient, ethers.keccak256(data), amount],
    );
    expect(hex(withdrawalMessageHash(id, recipient, data, amount))).toBe(expected);
  });

  it('rejects malformed inputs with BridgeSignerInputError', () => {
    const id = new Uint8Array(32);
    const ok = '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707';
    expect(() => withdrawalMessageHash(new Uint8Array(31), ok, new Uint8Array(0), 0n)).toThrow(
      BridgeSignerInputError,
    );
    for (const bad of [
      '',
      '0x1234',
      ok.slice(2),
      `${ok}00`,
      '0xZZC8d32690cc91D4c39d9d3abcBD16989F875707',
    ]) {
      expect(() => withdrawalMessageHash(id, bad, new Uint8Array(0), 0n)).toThrow(
        BridgeSignerInputError,
      );
    }
    expect(() => withdrawalMessageHash(id, ok, new Uint8Array(0), -1n)).toThrow(
      BridgeSignerInputError,
    );
    expect(() => withdrawalMessageHash(id, ok, new Uint8Array(0), 1n << 256n)).toThrow(
      BridgeSignerInputError,
    );
    expect(hex(withdrawalMessageHash(id, ok, new Uint8Array(0), (1n << 256n) - 1n))).toHaveLength(
      66,
    );
  });
});

describe('withdrawalMessageId (the sequencer rule, REFERENCE §1.12.2)', () => {
  const full = 'ab'.repeat(32);
  const text = (s: string) => hex(keccak256(utf8.encode(s)));

  // Copied from ../shared/vectors/withdrawal-message-id.json (cross-checked against the
  // sequencer's sign_bridge_withdrawal); null: the sequencer refuses the request.
  it.each(vectors.cases)('vector: $name', ({ request_id, message_id }) => {
    if (message_id === null) {
      expect(tryWithdrawalMessageId(request_id)).toBeNull();
      const error = thrown(() => withdrawalMessageId(request_id), WithdrawalMessageIdError);
      expect([error.code, error.kind]).toEqual(['BRIDGE_MESSAGE_ID', 'input']);
    } else {
      expect(hex(tryWithdrawalMessageId(request_id)!)).toBe(message_id);
      expect(hex(withdrawalMessageId(request_id))).toBe(message_id);
    }
  });

  it('has all 22 vectors', () => {
    expect(vectors.cases).toHaveLength(22);
  });

  it('takes 64 hex digits as the id, with or without a lower-case 0x, in either case', () => {
    expect(hex(withdrawalMessageId(full))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${full}`))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(full.toUpperCase()))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${'AbCd'.repeat(16)}`))).toBe(`0x${'abcd'.repeat(16)}`);
  });

  it('does not strip 0X: the whole string is hashed as text', () => {
    expect(hex(withdrawalMessageId(`0X${full}`))).toBe(text(`0X${full}`));
    expect(hex(withdrawalMessageId('0X12'))).toBe(text('0X12'));
  });

  it('left-pads shorter even-length hex and keeps the first 32 bytes of longer hex', () => {
    expect(hex(withdrawalMessageId('0x1234'))).toBe(`0x${'0'.repeat(60)}1234`);
    expect(hex(withdrawalMessageId('00'))).toBe(`0x${'0'.repeat(64)}`);
    expect(hex(withdrawalMessageId(`${full}00`))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${full}1234`))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId('c'.repeat(10_000)))).toBe(`0x${'c'.repeat(64)}`);
  });

  it('refuses odd-length hex, however long', () => {
    for (const s of ['a', 'abc', '0x1', '0x123', `${full}0`, 'f'.repeat(10_001)]) {
      expect(tryWithdrawalMessageId(s)).toBeNull();
      expect(() => withdrawalMessageId(s)).toThrow(WithdrawalMessageIdError);
    }
  });

  it('hashes non-hex and empty strings as UTF-8 text, prefix included', () => {
    for (const s of ['req-1', '0x', '', 'g0', 'ab cd', ' 0x12', 'é', '0x0x12']) {
      expect(hex(withdrawalMessageId(s))).toBe(text(s));
    }
    // The Rust validator's rule would take neither of these as-is; the sequencer does.
    expect(hex(withdrawalMessageId('ff'))).not.toBe(text('ff'));
    expect(hex(withdrawalMessageId(full))).not.toBe(text(full));
  });

  it('is always 32 bytes', () => {
    for (const s of ['', 'x', full, `0x${full}`, 'a'.repeat(10_000), 'z'.repeat(10_000)]) {
      expect(withdrawalMessageId(s)).toHaveLength(32);
    }
  });
});

describe('eip191Digest', () => {
  it('rejects inputs that are not 32 bytes', () => {
    expect(() => eip191Digest(new Uint8Array(31))).toThrow(BridgeSignerInputError);
    expect(() => withdrawalDigest(new Uint8Array(33))).toThrow(BridgeSignerInputError);
  });
});
