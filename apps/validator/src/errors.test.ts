import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { CursorConflictError, StateSchemaVersionError } from '@synddb/state-store';
import { describe, expect, it } from 'vitest';
import { ValidatorConfigError, ValidatorStartupError } from './errors';
import * as validator from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    ValidatorConfigError: {
      make: () =>
        new ValidatorConfigError([
          {
            key: 'syncInterval',
            names: '--sync-interval / SYNC_INTERVAL',
            source: undefined,
            message: 'not a duration',
          },
        ]),
      code: 'VALIDATOR_CONFIG',
      kind: 'config',
    },
    ValidatorStartupError: {
      make: () => new ValidatorStartupError('cannot open the replica database /x'),
      code: 'VALIDATOR_STARTUP',
      kind: 'config',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(validator)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((validator as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });
});

describe('ValidatorStartupError', () => {
  it("takes its details from the cause, and walk() reaches the cause's own kind", () => {
    const plain = new ValidatorStartupError('cannot load the bridge signer key', {
      cause: new Error('EACCES: permission denied'),
    });
    expect(plain.details).toBe('EACCES: permission denied');
    const cause = new StateSchemaVersionError(9, 1);
    const error = new ValidatorStartupError('cannot create the sync engine', { cause });
    expect(error.details).toBe(
      'State schema is newer than this version of @synddb/state-store: found schema version 9, this build supports up to 1',
    );
    expect(error.walk((e) => e instanceof StateSchemaVersionError)).toBe(cause);
    expect(error.walk()).toBe(cause);
    expect(
      new ValidatorStartupError('x', { details: 'mine', cause: new CursorConflictError(1n, 2n) })
        .details,
    ).toBe('mine');
  });
});
