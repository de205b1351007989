import { applyChangeset } from '@synddb/applier';
import { MessageType, type WithdrawalRequest } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';
import type { PreparedMessage } from './prepare-batch';
import type { AppliedMessage } from './types';
import { checkRules, type ValidationRule } from './validation-rule';

/** Called inside the apply transaction for each withdrawal (e.g. to queue it for signing). */
export type WithdrawalHandler = (context: {
  sequence: bigint;
  timestamp: bigint;
  request: WithdrawalRequest;
  state: StateStore;
  db: Database;
}) => void;

export interface ApplyContext {
  db: Database;
  state: StateStore;
  startSequence: bigint;
  withdrawalHandler?: WithdrawalHandler | undefined;
  /** Checked after a changeset message's changes, before its cursor entry (none: skipped). */
  rules?: readonly ValidationRule[] | undefined;
}

/**
 * Applies one non-snapshot message and records it in the cursor. Must run inside a transaction
 * (the engine gives each message its own savepoint inside a group transaction): either the
 * message's changes and its cursor entry commit together, or neither does.
 */
export function applyMessage(message: PreparedMessage, ctx: ApplyContext): AppliedMessage {
  if (message.type === 'invalid') throw message.error;
  if (message.type === MessageType.Snapshot) {
    throw new TypeError('snapshots are applied by restoreSnapshotMessage, not applyMessage');
  }
  const changesets: Uint8Array[] = [];
  if (message.type === MessageType.Changeset) {
    for (const changeset of message.request.changesets) {
      // Empty changesets occur (a transaction that changed nothing) and carry no operations.
      if (changeset.data.byteLength === 0) continue;
      applyChangeset(ctx.db, changeset.data, { transaction: 'caller' });
      changesets.push(changeset.data);
    }
    // Inside the message's savepoint: a failing rule rolls back the message, nothing of it commits.
    if (ctx.rules !== undefined && ctx.rules.length > 0) {
      checkRules(ctx.rules, ctx.db, { sequence: message.sequence, timestamp: message.timestamp });
    }
  } else {
    ctx.withdrawalHandler?.({
      sequence: message.sequence,
      timestamp: message.timestamp,
      request: message.request,
      state: ctx.state,
      db: ctx.db,
    });
  }
  ctx.state.recordApplied(message.sequence, message.timestamp, {
    startSequence: ctx.startSequence,
  });
  return {
    sequence: message.sequence,
    timestamp: message.timestamp,
    messageType: message.type,
    changesets,
  };
}
