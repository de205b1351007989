import { formatRevert, type SendOutcome } from '@synddb/bridge-client';
import type { Job } from '../store/job-store';
import type { JobContext } from './job-context';

/** What became of a job's transaction, for the job's next step. */
export interface Settled {
  /** Whether the job's mined transaction succeeded; null when none of its calls was mined. */
  success: boolean | null;
  /** Why: the decoded revert of a mined revert, a filled or consumed nonce. */
  reason: string | null;
  /** The decoded revert's name (a mined revert). */
  revertName: string | null;
}

/**
 * Records what became of a job's transaction: the mined version (and its siblings as replaced),
 * gas paid, the revert reason of a mined revert (its call re-run with eth_call at its block and
 * decoded), or every version dropped when the nonce went to a transaction that is not ours or
 * was filled with a no-op self-transfer.
 */
export async function settleTransaction(
  ctx: JobContext,
  job: Job,
  outcome: SendOutcome,
): Promise<Settled> {
  const live = ctx.store.liveTransactions(job.id);
  if (outcome.status === 'nonce_consumed') {
    for (const tx of live)
      if (tx.nonce === outcome.nonce) ctx.store.markTransaction(tx.hash, 'dropped');
    ctx.logger.warn('nonce used by another transaction; re-reading the chain', {
      job: job.id,
      nonce: outcome.nonce,
    });
    return { success: null, reason: 'nonce used elsewhere', revertName: null };
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
      ctx.store.markTransaction(tx.hash, outcome.status === 'filled' ? 'dropped' : 'replaced');
    }
  }
  ctx.metrics.gasUsed.inc(Number(receipt.gasUsed));
  ctx.metrics.gasSpent.inc(Number(receipt.gasUsed * receipt.effectiveGasPrice));
  if (outcome.status === 'filled') {
    ctx.logger.warn('journaled transaction refused or doomed: its nonce was filled with a no-op', {
      job: job.id,
      nonce: outcome.nonce,
      tx: receipt.hash,
    });
    return {
      success: null,
      reason: `nonce ${outcome.nonce} filled with a no-op transfer ${receipt.hash} (the journaled transaction was refused or would revert)`,
      revertName: null,
    };
  }
  if (receipt.success) return { success: true, reason: null, revertName: null };
  let revert = null;
  try {
    revert = await ctx.submitter.explainRevert(outcome.tx, receipt);
  } catch {
    // the reason stays unknown
  }
  const name = revert?.name ?? 'unknown';
  ctx.metrics.reverts.inc({ error: name });
  const reason = `transaction ${receipt.hash} reverted in block ${receipt.blockNumber}: ${revert !== null ? formatRevert(revert) : 'reason unknown'}`;
  ctx.logger.warn('transaction reverted on-chain', { job: job.id, tx: receipt.hash, reason });
  return { success: false, reason, revertName: name };
}
