import type { SyncStatus } from '@synddb/sync';

/** A `SyncStatus` as a fresh engine reports it (nothing applied, no head yet), with `patch` on top. */
export function testSyncStatus(patch: Partial<SyncStatus> = {}): SyncStatus {
  return {
    state: 'starting',
    lastSequence: null,
    lastTimestamp: null,
    lastAppliedAt: null,
    nextSequence: 0n,
    headSequence: null,
    lagSequences: 0n,
    lagSeconds: 0,
    halt: null,
    skippedGaps: [],
    messagesApplied: 0,
    ...patch,
  };
}

/** Caught up at sequence 7 (8 messages applied, the head known): what the API tests serve. */
export function caughtUpSyncStatus(): SyncStatus {
  return testSyncStatus({
    state: 'caught_up',
    lastSequence: 7n,
    lastTimestamp: 1n,
    lastAppliedAt: 1000,
    nextSequence: 8n,
    headSequence: 7n,
    messagesApplied: 8,
  });
}
