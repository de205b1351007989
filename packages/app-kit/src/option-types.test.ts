import { describe, expect, it } from 'vitest';
import { bindAddress, evmAddress } from './index';

const issues = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
  result.success ? [] : result.error!.issues.map((i) => i.message);

describe('bindAddress', () => {
  const parse = (address: string) => {
    if (!/^[^:]*:\d+$/.test(address)) throw new Error(`${address}: expected host:port`);
    return address;
  };

  it('keeps an address the parser accepts as trimmed text', () => {
    expect(bindAddress(parse).parse(' 127.0.0.1:8080 ')).toBe('127.0.0.1:8080');
    expect(bindAddress(parse).parse(':0')).toBe(':0');
  });

  it("reports the parser's message for one it refuses", () => {
    expect(issues(bindAddress(parse).safeParse('localhost'))).toEqual([
      'localhost: expected host:port',
    ]);
  });

  it('refuses empty text', () => {
    expect(issues(bindAddress((address) => address).safeParse('  '))).toEqual([
      'must not be empty',
    ]);
  });
});

describe('evmAddress', () => {
  const address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

  it('keeps an address lowercase, whatever its case (checksums are not enforced)', () => {
    expect(evmAddress().parse(address)).toBe(address.toLowerCase());
    expect(evmAddress().parse(` ${address.toUpperCase().replace('0X', '0x')} `)).toBe(
      address.toLowerCase(),
    );
  });

  it('refuses anything but 0x + 40 hex digits', () => {
    for (const bad of [
      address.slice(2),
      `${address}0`,
      address.slice(0, -1),
      `${address.slice(0, -1)}g`,
    ]) {
      expect(issues(evmAddress().safeParse(bad))).toEqual([
        'expected an EVM address: 0x followed by 40 hex digits',
      ]);
    }
    expect(issues(evmAddress().safeParse(''))).toEqual(['must not be empty']);
  });

  it('says what the caller asks for a bad one', () => {
    expect(issues(evmAddress('not an address').safeParse('0x12'))).toEqual(['not an address']);
  });
});
