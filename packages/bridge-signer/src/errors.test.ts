import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BridgeChainConfigError,
  BridgeChainResponseError,
  BridgeSignatureError,
  BridgeSignerInputError,
  BridgeSignerKeyError,
  OutboxEntryError,
  WithdrawalLedgerError,
  WithdrawalMessageIdError,
  WithdrawalPolicyConfigError,
  WithdrawalPolicyError,
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
    WithdrawalMessageIdError: {
      make: () => new WithdrawalMessageIdError('request_id is odd-length hex'),
      code: 'BRIDGE_MESSAGE_ID',
      kind: 'input',
    },
    WithdrawalLedgerError: {
      make: () => new WithdrawalLedgerError('bridge signer schema is newer'),
      code: 'BRIDGE_LEDGER',
      kind: 'state',
    },
    WithdrawalPolicyError: {
      make: () => new WithdrawalPolicyError('validator threw'),
      code: 'BRIDGE_POLICY',
      kind: 'internal',
    },
    BridgeChainConfigError: {
      make: () => new BridgeChainConfigError('RPC endpoint on another chain'),
      code: 'BRIDGE_CHAIN_CONFIG',
      kind: 'config',
    },
    BridgeChainResponseError: {
      make: () => new BridgeChainResponseError('malformed MessageHandled log'),
      code: 'BRIDGE_CHAIN_RESPONSE',
      kind: 'decode',
    },
    WithdrawalPolicyConfigError: {
      make: () => new WithdrawalPolicyConfigError('malformed policy file'),
      code: 'BRIDGE_POLICY_CONFIG',
      kind: 'config',
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
