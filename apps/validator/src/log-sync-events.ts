import type { Logger } from '@synddb/app-kit';
import type { SyncEngine, SyncProgress } from '@synddb/sync';

/** Logs the engine's life: progress while catching up, retries, halts, resumes, snapshots, gap skips. */
export function attachSyncLogging(engine: SyncEngine, logger: Logger): () => void {
  const log = logger.child({ component: 'sync' });
  // "caught up" is news after a start, a catch-up or a halt; while following a live sequencer it
  // happens after every batch, so those repeats go to debug.
  let notable = true;
  const onProgress = (p: SyncProgress) => {
    notable = true;
    log.info('catching up', progressFields(p));
  };
  const onCaughtUp = (info: { sequence: bigint | null }) => {
    if (notable) log.info('caught up with storage', { lastSequence: info.sequence });
    else log.debug('caught up with storage', { lastSequence: info.sequence });
    notable = false;
  };
  const onHalted: Parameters<typeof engine.on<'halted'>>[1] = (reason) =>
    log.error('sync halted: the replica stops advancing until the cause is gone', {
      code: reason.code,
      kind: reason.kind,
      sequence: reason.sequence,
      reason: reason.message,
    });
  const onResumed: Parameters<typeof engine.on<'resumed'>>[1] = (info) => {
    notable = true;
    log.info('sync resumed', {
      sequence: info.sequence,
      haltedForMs: info.haltedFor,
      previousCode: info.previous.code,
    });
  };
  // Each failed step before a halt is reported is a warning (at most GAP_RETRY_COUNT in a row);
  // once halted, the halt line says it and the retries that follow go to debug.
  const onRetrying: Parameters<typeof engine.on<'retrying'>>[1] = (info) => {
    const fields = {
      sequence: info.sequence,
      attempt: info.attempt,
      delayMs: Math.round(info.delayMs),
      code: info.code,
      kind: info.kind,
      reason: info.message,
      ...(info.retryAfterMs === undefined ? {} : { retryAfterMs: info.retryAfterMs }),
    };
    if (info.halted) log.debug('sync step failed, retrying', fields);
    else log.warn('sync step failed, retrying', fields);
  };
  const onSnapshot: Parameters<typeof engine.on<'snapshot'>>[1] = (info) =>
    log.info('snapshot applied', { sequence: info.sequence, bytes: info.bytes });
  const onGapSkipped: Parameters<typeof engine.on<'gapSkipped'>>[1] = (gap) =>
    log.warn('skipped a sequence gap (GAP_SKIP_ON_FAILURE)', {
      start: gap.start,
      endExclusive: gap.end,
      reason: gap.reason,
    });
  const onSignatureFailure: Parameters<typeof engine.on<'signatureFailure'>>[1] = (info) =>
    log.error('signature verification failed', { sequence: info.sequence, code: info.code });
  const onApplied: Parameters<typeof engine.on<'applied'>>[1] = (messages) => {
    if (!log.isEnabled('debug')) return;
    log.debug('committed', {
      messages: messages.length,
      first: messages[0]?.sequence,
      last: messages[messages.length - 1]?.sequence,
    });
  };
  const onUpdateResolverFailed: Parameters<typeof engine.on<'updateResolverFailed'>>[1] = (info) =>
    log.warn('state root UPDATE resolver worker failed: UPDATEs are resolved on the sync thread', {
      reason: info.message,
    });
  const onError: Parameters<typeof engine.on<'error'>>[1] = (error) =>
    log.error('sync engine error', { error });

  engine.on('progress', onProgress);
  engine.on('caughtUp', onCaughtUp);
  engine.on('halted', onHalted);
  engine.on('resumed', onResumed);
  engine.on('retrying', onRetrying);
  engine.on('snapshot', onSnapshot);
  engine.on('gapSkipped', onGapSkipped);
  engine.on('signatureFailure', onSignatureFailure);
  engine.on('applied', onApplied);
  engine.on('updateResolverFailed', onUpdateResolverFailed);
  engine.on('error', onError);
  return () => {
    engine.off('progress', onProgress);
    engine.off('caughtUp', onCaughtUp);
    engine.off('halted', onHalted);
    engine.off('resumed', onResumed);
    engine.off('retrying', onRetrying);
    engine.off('snapshot', onSnapshot);
    engine.off('gapSkipped', onGapSkipped);
    engine.off('signatureFailure', onSignatureFailure);
    engine.off('applied', onApplied);
    engine.off('updateResolverFailed', onUpdateResolverFailed);
    engine.off('error', onError);
  };
}

/** `applied/head`, rate and ETA for a catch-up progress line. */
export function progressFields(p: SyncProgress): Record<string, unknown> {
  const percent =
    p.head !== null && p.applied !== null && p.head > 0n
      ? Math.min(100, Number(((p.applied + 1n) * 10_000n) / (p.head + 1n)) / 100)
      : undefined;
  return {
    applied: p.applied,
    head: p.head,
    percent,
    ratePerSecond: Math.round(p.rate * 10) / 10,
    eta: p.etaSeconds === null ? 'unknown' : formatSeconds(p.etaSeconds),
  };
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}
