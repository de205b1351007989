import { type ErrorKind, isSyndDBError, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  isQueryErrorCode,
  QUERY_ERROR_KINDS,
  QueryConfigError,
  QueryError,
  type QueryErrorCode,
} from './errors';
import * as query from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    QueryError: {
      make: () => new QueryError('QUERY_READ_ONLY', 'only reads'),
      code: 'QUERY_READ_ONLY',
      kind: 'input',
    },
    QueryConfigError: {
      make: () => new QueryConfigError('invalid query service options'),
      code: 'QUERY_CONFIG',
      kind: 'config',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(query)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((query as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
    expect(isSyndDBError(error)).toBe(true);
  });
});

describe('QueryError', () => {
  it('takes its kind, HTTP status and JSON-RPC code from its code', () => {
    const cases: [QueryErrorCode, ErrorKind, number, number][] = [
      ['QUERY_READ_ONLY', 'input', 403, -32000],
      ['QUERY_NOT_ALLOWED', 'input', 403, -32000],
      ['QUERY_INTERNAL_TABLE', 'input', 403, -32000],
      ['QUERY_MULTIPLE_STATEMENTS', 'input', 403, -32000],
      ['QUERY_NOT_A_READ', 'input', 403, -32000],
      ['QUERY_SQL', 'input', 400, -32004],
      ['QUERY_ROW_LIMIT', 'input', 422, -32003],
      ['QUERY_SIZE_LIMIT', 'input', 422, -32003],
      ['QUERY_TIMEOUT', 'aborted', 504, -32001],
      ['MIN_SEQUENCE_TIMEOUT', 'aborted', 504, -32002],
      ['QUERY_BUSY', 'unavailable', 503, -32005],
      ['QUERY_CLIENT_BUSY', 'unavailable', 429, -32005],
      ['QUERY_UNAVAILABLE', 'unavailable', 503, -32005],
      ['QUERY_INTERNAL', 'internal', 500, -32603],
    ];
    expect(cases.map(([code]) => code).sort()).toEqual(Object.keys(QUERY_ERROR_KINDS).sort());
    for (const [code, kind, status, rpcCode] of cases) {
      const error = new QueryError(code, 'x', { sequence: 7n });
      expect(error).toMatchObject({ code, kind, status, rpcCode, sequence: 7n });
    }
    expect(isQueryErrorCode('QUERY_SQL')).toBe(true);
    expect(isQueryErrorCode('toString')).toBe(false);
  });
});
