import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BridgeSignatureError,
  BridgeSignerInputError,
  BridgeSignerKeyError,
  OutboxEntryError,
} from './errors';
import * as bridgeSigner from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    BridgeSignerKeyError: {
      make: () => new BridgeSignerKeyError('key file is readable by others'),
      code: 'BRIDGE_SIGNER_KEY',
      kind: 'config',
    },
    BridgeSignerInputError: {
      make: () => new BridgeSignerInputError('recipient is not an address'),
      code: 'BRIDGE_SIGNER_INPUT',
      kind: 'input',
    },
    BridgeSignatureError: {
      make: () => new BridgeSignatureError('Signature v must be 27 or 28'),
      code: 'BRIDGE_SIGNATURE',
      kind: 'verification',
    },
    OutboxEntryError: {
      make: () => new OutboxEntryError('message id is not 0x + 64 hex'),
      code: 'BRIDGE_OUTBOX_ENTRY',
      kind: 'state',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(bridgeSigner)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((bridgeSigner as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });
});
