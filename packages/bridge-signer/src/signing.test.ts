import { bytesToHex, hexToBytes } from '@synddb/protocol';
import { ethers } from 'ethers';
import { describe, expect, it } from 'vitest';
import { checksumAddress, recoverSignerAddress } from './address';
import { withdrawalDigest } from './eip191-digest';
import { BridgeSignatureError, BridgeSignerInputError, BridgeSignerKeyError } from './errors';
import { signRecoverable } from './sign-recoverable';
import { signWithdrawal } from './sign-withdrawal';
import { type BridgeSignerKey, generateSignerKey, signerKeyFromHex } from './signer-key';
import { withdrawalMessageId } from './withdrawal-message-id';

const HALF_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n >> 1n;
const SECRET = `0x${'11'.repeat(32)}`;

describe('signerKeyFromHex', () => {
  it('derives the same EIP-55 address as ethers', () => {
    const expected = new ethers.Wallet(SECRET).address;
    expect(signerKeyFromHex(SECRET).address).toBe(expected);
    expect(signerKeyFromHex(SECRET.slice(2)).address).toBe(expected);
    expect(signerKeyFromHex(SECRET.toUpperCase().replace('0X', '0x')).address).toBe(expected);
    expect(ethers.getAddress(expected.toLowerCase())).toBe(expected);
  });

  it('rejects malformed and out-of-range keys without echoing them', () => {
    const n = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    for (const bad of [
      '',
      '0x',
      '11'.repeat(31),
      '11'.repeat(33),
      `0x${'zz'.repeat(32)}`,
      ` ${'11'.repeat(32)}`,
      '0'.repeat(64),
      n,
      'f'.repeat(64),
    ]) {
      let error: unknown;
      try {
        signerKeyFromHex(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(BridgeSignerKeyError);
      expect((error as BridgeSignerKeyError).code).toBe('BRIDGE_SIGNER_KEY');
      if (bad.length > 8) expect((error as Error).message).not.toContain(bad);
    }
    // n - 1 is the largest valid scalar.
    expect(signerKeyFromHex(`${n.slice(0, 63)}0`).address).toMatch(/^0x[0-9a-fA-F]{40}$/);
  });

  it('does not expose the secret when serialized or inspected', () => {
    const key = signerKeyFromHex(SECRET);
    expect(JSON.stringify(key)).not.toContain('1111');
    expect(Object.keys(key)).toEqual(['address', 'sign']);
  });
});

describe('signatures', () => {
  it('recover with ethers to the signer address, low-S, v 27/28, 65 bytes, deterministic', () => {
    const keys = [signerKeyFromHex(SECRET), generateSignerKey(), generateSignerKey()];
    const vs = new Set<number>();
    for (const key of keys) {
      for (let i = 0; i < 20; i++) {
        const id = withdrawalMessageId(`req-${i}`);
        const digest = withdrawalDigest(id);
        const sig = key.sign(digest);
        expect(sig).toHaveLength(65);
        expect([27, 28]).toContain(sig[64]);
        vs.add(sig[64]!);
        const s = BigInt(`0x${bytesToHex(sig.subarray(32, 64))}`);
        expect(s <= HALF_N).toBe(true);
        expect(key.sign(digest)).toEqual(sig);
        const sigHex = `0x${bytesToHex(sig)}`;
        expect(ethers.recoverAddress(digest, sigHex)).toBe(key.address);
        // ethers recomputes the EIP-191 hash from the raw id itself.
        expect(ethers.verifyMessage(id, sigHex)).toBe(key.address);
        expect(recoverSignerAddress(digest, sig)).toBe(key.address);
      }
    }
    expect(vs).toEqual(new Set([27, 28]));
  });

  it('signRecoverable matches ethers SigningKey byte for byte (RFC 6979)', () => {
    const digest = withdrawalDigest(new Uint8Array(32).fill(0xab));
    const ours = signRecoverable(digest, hexToBytes(SECRET.slice(2))!);
    const theirs = new ethers.SigningKey(SECRET).sign(digest).serialized;
    expect(`0x${bytesToHex(ours)}`).toBe(theirs);
    expect(() => signRecoverable(new Uint8Array(31), hexToBytes(SECRET.slice(2))!)).toThrow(
      BridgeSignerInputError,
    );
  });

  it('signWithdrawal returns lowercase hex and the key address', () => {
    const key = signerKeyFromHex(SECRET);
    const id = withdrawalMessageId(`0x${'AB'.repeat(32)}`);
    const signed = signWithdrawal(key, id);
    expect(signed.messageId).toBe(`0x${'ab'.repeat(32)}`);
    expect(signed.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(signed.signer).toBe(key.address);
    expect(ethers.verifyMessage(id, signed.signature)).toBe(key.address);
    expect(() => signWithdrawal(key, new Uint8Array(20))).toThrow(BridgeSignerInputError);
  });

  it('signWithdrawal refuses signatures the Bridge would reject', () => {
    const good = signerKeyFromHex(SECRET);
    const other = generateSignerKey();
    const id = withdrawalMessageId('req-1');
    const highS = (digest: Uint8Array) => {
      const sig = good.sign(digest);
      const s = BigInt(`0x${bytesToHex(sig.subarray(32, 64))}`);
      const flipped = hexToBytes((HALF_N * 2n + 1n - s).toString(16).padStart(64, '0'))!;
      const out = sig.slice();
      out.set(flipped, 32);
      out[64] = sig[64] === 27 ? 28 : 27;
      return out;
    };
    const cases: [string, (d: Uint8Array) => Uint8Array][] = [
      ['must be 65 bytes', (d) => good.sign(d).subarray(0, 64)],
      [
        'v must be 27 or 28',
        (d) => {
          const sig = good.sign(d).slice();
          sig[64] = sig[64]! - 27;
          return sig;
        },
      ],
      ['r is out of range', () => new Uint8Array(65).fill(27, 64)],
      ['lower half', highS],
      ['does not recover to the signer', (d) => other.sign(d)],
    ];
    for (const [reason, sign] of cases) {
      const key: BridgeSignerKey = { address: good.address, sign };
      let error: unknown;
      try {
        signWithdrawal(key, id);
      } catch (e) {
        error = e;
      }
      expect(error, reason).toBeInstanceOf(BridgeSignatureError);
      expect((error as BridgeSignatureError).shortMessage).toContain(reason);
    }
    // ethers (like OpenZeppelin) refuses the high-S mirror of a valid signature too.
    const digest = withdrawalDigest(id);
    expect(() => ethers.recoverAddress(digest, `0x${bytesToHex(highS(digest))}`)).toThrow(
      /non-canonical s/,
    );
    const notBytes = { address: good.address, sign: () => '0x00' as unknown as Uint8Array };
    expect(() => signWithdrawal(notBytes, id)).toThrow(BridgeSignatureError);
  });

  it('checksumAddress matches ethers.getAddress', () => {
    for (let i = 0; i < 20; i++) {
      const lower = generateSignerKey().address.toLowerCase();
      expect(checksumAddress(hexToBytes(lower.slice(2))!)).toBe(ethers.getAddress(lower));
    }
  });
});
