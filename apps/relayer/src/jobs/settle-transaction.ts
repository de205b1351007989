import type { SendOutcome } from '@synddb/bridge-client';
import type { Job } from '../store/job-store';
import type { JobContext } from './job-context';

/**
 * Records what became of a job's transaction: the mined version (and its siblings as replaced),
 * gas paid, or every version dropped when the nonce went to a transaction that is not ours.
 * Returns whether the mined transaction succeeded (null when nothing of ours was mined).
 */
export function settleTransaction(ctx: JobContext, job: Job, outcome: SendOutcome): boolean | null {
  const live = ctx.store.liveTransactions(job.id);
  if (outcome.status === 'nonce_consumed') {
    for (const tx of live)
      if (tx.nonce === outcome.nonce) ctx.store.markTransaction(tx.hash, 'dropped');
    ctx.logger.warn('nonce used by another transaction; re-reading the chain', {
      job: job.id,
      nonce: outcome.nonce,
    });
    return null;
  }
  const { receipt } = outcome;
  for (const tx of live) {
    if (tx.nonce !== outcome.tx.nonce) continue;
    if (tx.hash === outcome.tx.hash) {
      ctx.store.markTransaction(tx.hash, receipt.success ? 'mined' : 'reverted', {
        blockNumber: receipt.blockNumber,
        gasUsed: receipt.gasUsed,
      });
    } else {
      ctx.store.markTransaction(tx.hash, 'replaced');
    }
  }
  ctx.metrics.gasUsed.inc(Number(receipt.gasUsed));
  ctx.metrics.gasSpent.inc(Number(receipt.gasUsed * receipt.effectiveGasPrice));
  if (!receipt.success) ctx.metrics.reverts.inc({ error: 'mined-reverted' });
  return receipt.success;
}
