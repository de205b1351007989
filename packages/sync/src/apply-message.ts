import { applyChangeset } from '@synddb/applier';
import { MessageType, type WithdrawalRequest } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';
import type { PreparedMessage } from './prepare-batch';
import type { StateRootHandler, StateRootTracker } from './state-root-tracker';
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
  /** Keeps the state root (its state is restored when the message fails). */
  stateRoot?: StateRootTracker | undefined;
  onStateRoot?: StateRootHandler | undefined;
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
  const tracker = ctx.stateRoot;
  if (tracker === undefined) return applyData(message, ctx);
  tracker.checkpoint();
  try {
    return applyData(message, ctx);
  } catch (error) {
    tracker.rollbackToCheckpoint();
    throw error;
  }
}

function applyData(
  message: Exclude<PreparedMessage, { type: 'invalid' | typeof MessageType.Snapshot }>,
  ctx: ApplyContext,
): AppliedMessage {
  const changesets: Uint8Array[] = [];
  const tracker = ctx.stateRoot;
  if (message.type === MessageType.Changeset) {
    const list = message.request.changesets;
    for (let i = 0; i < list.length; i++) {
      const data = list[i]!.data;
      // Empty changesets occur (a transaction that changed nothing) and carry no operations.
      if (data.byteLength === 0) continue;
      const result = applyChangeset(ctx.db, data, { transaction: 'caller' });
      tracker?.applied(data, message.deltas?.[i], result);
      changesets.push(data);
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
  if (tracker !== undefined && ctx.onStateRoot !== undefined) {
    ctx.onStateRoot({
      sequence: message.sequence,
      timestamp: message.timestamp,
      messageType: message.type,
      messageHash: message.messageHash,
      stateRoot: () => tracker.root(),
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
