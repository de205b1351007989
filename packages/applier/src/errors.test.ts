import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  ChangesetConflictError,
  ChangesetFormatError,
  SchemaMismatchError,
  SnapshotFormatError,
  SnapshotTooLargeError,
} from './errors';
import * as applier from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    ChangesetConflictError: {
      make: () => new ChangesetConflictError('DATA', 't', 'UPDATE', [1n]),
      code: 'CHANGESET_CONFLICT',
      kind: 'conflict',
    },
    SchemaMismatchError: {
      make: () => new SchemaMismatchError('t', 3, undefined),
      code: 'SCHEMA_MISMATCH',
      kind: 'schema',
    },
    ChangesetFormatError: {
      make: () => new ChangesetFormatError('truncated record', 7),
      code: 'CHANGESET_FORMAT',
      kind: 'decode',
    },
    SnapshotFormatError: {
      make: () => new SnapshotFormatError('quick_check failed'),
      code: 'SNAPSHOT_FORMAT',
      kind: 'decode',
    },
    SnapshotTooLargeError: {
      make: () => new SnapshotTooLargeError(11, 10),
      code: 'SNAPSHOT_TOO_LARGE',
      kind: 'decode',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(applier)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((applier as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });

  it("a conflict keeps SQLite's conflict type apart from its error kind", () => {
    const error = new ChangesetConflictError('NOTFOUND', 'accounts', 'DELETE', [7n]);
    expect(error.kind).toBe('conflict');
    expect(error.conflictKind).toBe('NOTFOUND');
    expect(error.shortMessage).toBe(
      'changeset conflict NOTFOUND: DELETE on table "accounts" with primary key (7)',
    );
  });
});
