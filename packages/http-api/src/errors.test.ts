import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { BindAddressError, HttpApiConfigError, HttpApiError, ListenError } from './errors';
import * as httpApi from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    HttpApiError: {
      make: () => new HttpApiError(400, 'INVALID_REQUEST', 'invalid request'),
      code: 'INVALID_REQUEST',
      kind: 'input',
    },
    BindAddressError: {
      make: () => new BindAddressError('nope', 'no port'),
      code: 'HTTP_API_BIND_ADDRESS',
      kind: 'config',
    },
    ListenError: {
      make: () =>
        new ListenError('127.0.0.1:1', Object.assign(new Error('in use'), { code: 'EADDRINUSE' })),
      code: 'HTTP_API_LISTEN',
      kind: 'config',
    },
    HttpApiConfigError: {
      make: () => new HttpApiConfigError('invalid createValidatorApi options'),
      code: 'HTTP_API_CONFIG',
      kind: 'config',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(httpApi)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((httpApi as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });

  it("an HttpApiError's kind follows its status unless given", () => {
    expect(new HttpApiError(404, 'NOT_FOUND', 'not found').kind).toBe('input');
    expect(new HttpApiError(503, 'BUSY', 'busy').kind).toBe('unavailable');
    expect(new HttpApiError(500, 'INTERNAL', 'internal error').kind).toBe('internal');
    expect(new HttpApiError(400, 'X', 'x', { kind: 'config' }).kind).toBe('config');
  });
});
