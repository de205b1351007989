import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  CursorConflictError,
  NotInTransactionError,
  StateSchemaVersionError,
  StateValueError,
} from './errors';
import * as stateStore from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    StateSchemaVersionError: {
      make: () => new StateSchemaVersionError(9, 1),
      code: 'STATE_SCHEMA_VERSION',
      kind: 'state',
    },
    CursorConflictError: {
      make: () => new CursorConflictError(5n, 7n),
      code: 'CURSOR_CONFLICT',
      kind: 'state',
    },
    NotInTransactionError: {
      make: () => new NotInTransactionError('recordApplied'),
      code: 'STATE_NOT_IN_TRANSACTION',
      kind: 'internal',
    },
    StateValueError: {
      make: () => new StateValueError('sequence is negative'),
      code: 'STATE_VALUE',
      kind: 'state',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(stateStore)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((stateStore as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });

  it('a cursor that does not continue is a state error, not a changeset conflict', () => {
    const db = new Database(':memory:');
    const store = stateStore.openStateStore(db);
    db.transaction(() => store.recordApplied(0n, 1n))();
    let error: unknown;
    try {
      db.transaction(() => store.recordApplied(3n, 1n))();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CursorConflictError);
    expect(error).toMatchObject({
      code: 'CURSOR_CONFLICT',
      kind: 'state',
      expected: 1n,
      actual: 3n,
    });
    db.close();
  });
});
