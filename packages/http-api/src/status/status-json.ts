import type { SyncStatus } from '@synddb/sync';
import { jsonInteger, jsonIntegerOrNull } from './json-integer';

/**
 * The sync status the API serves (`SyncEngine#status` of `@synddb/sync`); called on every
 * `/status`, `/ready`, `/health` and `/metrics` request.
 */
export type StatusProvider = () => SyncStatus;

export type JsonInteger = number | string;

/** `GET /status` body. The first four fields are the Rust validator's; the rest are additions. */
export interface StatusJson {
  /** True while the sync loop runs and is not halted (the reference's meaning). */
  running: boolean;
  last_sequence: JsonInteger | null;
  /** Unix seconds of the last commit, 0 if never. */
  last_sync_time: number;
  next_sequence: JsonInteger;
  state: SyncStatus['state'];
  head_sequence: JsonInteger | null;
  lag_sequences: JsonInteger;
  lag_seconds: number;
  /** Sequencer timestamp (unix s) of the last applied message. */
  last_timestamp: JsonInteger | null;
  messages_applied: number;
  /** True once the replica has reached the storage head since the process started. */
  synced_once: boolean;
  ready: boolean;
  halt: {
    code: string;
    kind: string;
    message: string;
    sequence: JsonInteger;
    /** Unix ms. */
    since_ms: number;
    retries: number;
  } | null;
  /** Ranges `[start, end)` skipped by operator choice (`GAP_SKIP_ON_FAILURE`). */
  skipped_gaps: { start: JsonInteger; end: JsonInteger; reason: string; detected_at_ms: number }[];
}

export interface Readiness {
  ready: boolean;
  /** Why the validator is not ready; empty when ready. */
  reasons: string[];
}

/**
 * Ready means: the sync loop runs, is not halted, has caught up with storage at least once since
 * start, and is at most `maxLag` sequences behind the head it knows of.
 */
export function evaluateReadiness(
  status: SyncStatus,
  options: { maxLag: bigint | undefined; syncedOnce: boolean },
): Readiness {
  const reasons: string[] = [];
  if (status.halt !== null) {
    reasons.push(
      `halted at sequence ${status.halt.sequence}: ${status.halt.code} (${status.halt.message})`,
    );
  } else if (status.state === 'halted') {
    reasons.push('halted');
  }
  if (status.state === 'stopped') reasons.push('sync loop is stopped');
  if (status.state === 'starting') reasons.push('sync loop is starting');
  if (!options.syncedOnce) {
    reasons.push(`not caught up with storage yet (lag ${status.lagSequences} sequences)`);
  }
  if (options.maxLag !== undefined && status.lagSequences > options.maxLag) {
    reasons.push(`lag ${status.lagSequences} sequences exceeds max lag ${options.maxLag}`);
  }
  return { ready: reasons.length === 0, reasons };
}

export function isRunning(status: SyncStatus): boolean {
  return status.state !== 'stopped' && status.state !== 'halted' && status.halt === null;
}

export function statusToJson(
  status: SyncStatus,
  extra: { syncedOnce: boolean; ready: boolean },
): StatusJson {
  return {
    running: isRunning(status),
    last_sequence: jsonIntegerOrNull(status.lastSequence),
    last_sync_time: status.lastAppliedAt === null ? 0 : Math.floor(status.lastAppliedAt / 1000),
    next_sequence: jsonInteger(status.nextSequence),
    state: status.state,
    head_sequence: jsonIntegerOrNull(status.headSequence),
    lag_sequences: jsonInteger(status.lagSequences),
    lag_seconds: status.lagSeconds,
    last_timestamp: jsonIntegerOrNull(status.lastTimestamp),
    messages_applied: status.messagesApplied,
    synced_once: extra.syncedOnce,
    ready: extra.ready,
    halt:
      status.halt === null
        ? null
        : {
            code: status.halt.code,
            kind: status.halt.kind,
            message: status.halt.message,
            sequence: jsonInteger(status.halt.sequence),
            since_ms: status.halt.since,
            retries: status.halt.retries,
          },
    skipped_gaps: status.skippedGaps.map((g) => ({
      start: jsonInteger(g.start),
      end: jsonInteger(g.end),
      reason: g.reason,
      detected_at_ms: g.detectedAt,
    })),
  };
}
