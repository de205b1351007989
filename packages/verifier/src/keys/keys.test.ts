import { describe, expect, it } from 'vitest';
import { ANVIL0_PUBKEY, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import { InvalidPublicKeyError } from '../errors';
import { toChecksumAddress } from './checksum-address';
import { parseSequencerPubkey } from './parse-sequencer-pubkey';
import { pubkeyToAddress } from './pubkey-to-address';

const ANVIL0_HEX = wire.keys.anvil0.pubkey64;

function reasonOf(input: string): string {
  try {
    parseSequencerPubkey(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPublicKeyError);
    expect((error as InvalidPublicKeyError).code).toBe('INVALID_PUBLIC_KEY');
    return (error as InvalidPublicKeyError).reason;
  }
  throw new Error('expected parseSequencerPubkey to throw');
}

describe('parseSequencerPubkey', () => {
  it.each([
    ['lowercase, no prefix', ANVIL0_HEX],
    ['0x prefix', `0x${ANVIL0_HEX}`],
    ['0X prefix and uppercase', `0X${ANVIL0_HEX.toUpperCase()}`],
    ['mixed case', [...ANVIL0_HEX].map((c, i) => (i % 3 === 0 ? c.toUpperCase() : c)).join('')],
    ['surrounding whitespace (env files)', ` ${ANVIL0_HEX}\n`],
  ])('accepts %s', (_label, input) => {
    expect(parseSequencerPubkey(input)).toEqual(ANVIL0_PUBKEY);
  });

  it('parses the second fixture key', () => {
    expect(parseSequencerPubkey(wire.keys.ones.pubkey64)).toEqual(ONES_PUBKEY);
  });

  it.each([
    ['empty', ''],
    ['127 chars', ANVIL0_HEX.slice(1)],
    ['129 chars', `${ANVIL0_HEX}0`],
    ['0x only', '0x'],
    ['SEC1 65-byte form with 04 prefix', `04${ANVIL0_HEX}`],
    ['compressed 33-byte key', `02${ANVIL0_HEX.slice(0, 64)}`],
    ['double prefix', `0x0x${ANVIL0_HEX.slice(4)}`.slice(0, 129)],
  ])('rejects %s as a length error', (_label, input) => {
    expect(reasonOf(input)).toBe('length');
  });

  it('rejects non-hex characters and says where', () => {
    const bad = `${ANVIL0_HEX.slice(0, 10)}zz${ANVIL0_HEX.slice(12)}`;
    expect(reasonOf(bad)).toBe('hex');
    expect(() => parseSequencerPubkey(bad)).toThrow(/position 10/);
    expect(reasonOf(`${ANVIL0_HEX.slice(0, 126)}+1`)).toBe('hex');
  });

  it('rejects the all-zero key and keys off the curve', () => {
    expect(reasonOf('0'.repeat(128))).toBe('not-on-curve');
    const flipped = `${ANVIL0_HEX.slice(0, 127)}${ANVIL0_HEX.endsWith('5') ? '4' : '5'}`;
    expect(reasonOf(flipped)).toBe('not-on-curve');
    expect(reasonOf('f'.repeat(128))).toBe('not-on-curve');
  });
});

describe('pubkeyToAddress', () => {
  it('gives the EIP-55 address of the anvil0 key', () => {
    expect(pubkeyToAddress(ANVIL0_PUBKEY)).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  });

  it('matches the fixture address of the second key, ignoring case', () => {
    const address = pubkeyToAddress(ONES_PUBKEY);
    expect(address.toLowerCase()).toBe(wire.keys.ones.address);
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/);
  });

  it.each([
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ])('checksums the EIP-55 specification example %s', (address) => {
    expect(toChecksumAddress(address.slice(2).toLowerCase())).toBe(address);
    expect(toChecksumAddress(address.slice(2).toUpperCase())).toBe(address);
  });

  it('rejects keys that are not 64 bytes', () => {
    expect(() => pubkeyToAddress(new Uint8Array(65))).toThrow(InvalidPublicKeyError);
  });
});
