import { describe, expect, it } from 'vitest';
import { ThrownAssertionError, thrown } from './thrown';

class CodedError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

describe('thrown', () => {
  it('returns the error a function throws, typed when a class is given', () => {
    const error = thrown(() => {
      throw new CodedError('BAD_LENGTH');
    }, CodedError);
    expect(error.code).toBe('BAD_LENGTH');
    expect(thrown(() => JSON.parse('{'))).toBeInstanceOf(SyntaxError);
  });

  it('fails when nothing is thrown, or something of another class', () => {
    expect(() => thrown(() => 42)).toThrow(
      new ThrownAssertionError('expected an error to be thrown, the function returned 42'),
    );
    const other = thrown(() => thrown(() => JSON.parse('{'), CodedError), ThrownAssertionError);
    expect(other.message).toMatch(/^expected a CodedError to be thrown, got SyntaxError/);
    expect(other.cause).toBeInstanceOf(SyntaxError);
  });
});
