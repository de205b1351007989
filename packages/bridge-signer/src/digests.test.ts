import { bytesToHex, keccak256 } from '@synddb/protocol';
import { ethers } from 'ethers';
import { describe, expect, it } from 'vitest';
import { eip191Digest, withdrawalDigest } from './eip191-digest';
import { BridgeSignerInputError } from './errors';
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

describe('withdrawalMessageId (the sequencer rule)', () => {
  const full = 'ab'.repeat(32);

  it('takes 64 hex characters as the id, with or without 0x/0X', () => {
    expect(hex(withdrawalMessageId(full))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${full}`))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0X${full}`))).toBe(`0x${full}`);
  });

  it('accepts uppercase hex digits', () => {
    expect(hex(withdrawalMessageId(full.toUpperCase()))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${'AbCd'.repeat(16)}`))).toBe(`0x${'abcd'.repeat(16)}`);
  });

  it('left-pads shorter even-length hex with zeros', () => {
    expect(hex(withdrawalMessageId('0x1234'))).toBe(`0x${'0'.repeat(60)}1234`);
    expect(hex(withdrawalMessageId('1234'))).toBe(`0x${'0'.repeat(60)}1234`);
    expect(hex(withdrawalMessageId('00'))).toBe(`0x${'0'.repeat(64)}`);
  });

  it('hashes odd-length, non-hex, too long and empty-hex strings as UTF-8 text', () => {
    const text = (s: string) => hex(keccak256(utf8.encode(s)));
    for (const s of [
      'abc',
      '0x123',
      'req-1',
      `${full}00`,
      `0x${full}00`,
      '0x',
      '',
      'g0',
      'ab cd',
      'é',
    ]) {
      expect(hex(withdrawalMessageId(s))).toBe(text(s));
    }
    // The Rust validator's rule would take neither of these as-is; the sequencer pads both.
    expect(hex(withdrawalMessageId('ff'))).not.toBe(text('ff'));
    expect(hex(withdrawalMessageId(full))).not.toBe(text(full));
  });

  it('is always 32 bytes', () => {
    for (const s of ['', 'x', full, `0x${full}`, 'a'.repeat(10_000)]) {
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
