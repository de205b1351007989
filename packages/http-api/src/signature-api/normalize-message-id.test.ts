import { describe, expect, it } from 'vitest';
import { normalizeMessageId } from './normalize-message-id';

const HEX = 'ab'.repeat(32);

describe('normalizeMessageId', () => {
  it('accepts 64 hex characters with or without 0x, in any case', () => {
    expect(normalizeMessageId(`0x${HEX}`)).toBe(`0x${HEX}`);
    expect(normalizeMessageId(HEX)).toBe(`0x${HEX}`);
    expect(normalizeMessageId(`0X${HEX.toUpperCase()}`)).toBe(`0x${HEX}`);
    expect(normalizeMessageId(`0xAb${HEX.slice(2)}`)).toBe(`0x${HEX}`);
  });

  it.each([
    ['empty', ''],
    ['0x only', '0x'],
    ['short', `0x${HEX.slice(2)}`],
    ['long', `0x${HEX}00`],
    ['65 chars', `0${HEX}`],
    ['non-hex', `0x${'g'.repeat(64)}`],
    ['bad prefix', `1x${HEX}`],
    ['double prefix', `0x0x${HEX.slice(4)}`],
    ['spaces', ` ${HEX} `],
    ['traversal', `../${HEX.slice(3)}`],
    ['huge', 'a'.repeat(1_000_000)],
  ])('rejects %s', (_name, id) => {
    expect(normalizeMessageId(id)).toBeNull();
  });
});
