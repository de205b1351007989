import { bytesToHex } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { eip191Digest, withdrawalMessageHash, withdrawalMessageId } from './bridge-signature';

const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;

describe('bridge signature inputs (REFERENCE.md §8 vectors)', () => {
  it('derives message ids the sequencer way', () => {
    expect(hex(withdrawalMessageId('req-1'))).toBe(
      '0x5521a70e306e4cf143fc3b54739d4053a40cc9765dbc2f1d2c86a2ea55e5dfe0',
    );
    const full = 'ab'.repeat(32);
    expect(hex(withdrawalMessageId(full))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId(`0x${full}`))).toBe(`0x${full}`);
    expect(hex(withdrawalMessageId('0x1234'))).toBe(`0x${'0'.repeat(60)}1234`);
    // Too long for 32 bytes, or odd length: hashed as text.
    expect(withdrawalMessageId(`${full}00`)).not.toEqual(withdrawalMessageId(full));
    expect(hex(withdrawalMessageId('abc')).length).toBe(66);
  });

  it('hashes the EIP-191 digest of a message id', () => {
    expect(hex(eip191Digest(new Uint8Array(32).fill(0xab)))).toBe(
      '0xe2ff0e36e69683e8cbb0159e90e7d319e743e22b0a37c17566b625eb25102fed',
    );
  });

  it('computes the Bridge sequencer message hash', () => {
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
