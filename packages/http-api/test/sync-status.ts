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
