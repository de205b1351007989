import type { Logger } from '@synddb/app-kit';
import type {
  BridgeReader,
  JournaledTransaction,
  SubmitJournal,
  TransactionSubmitter,
  ValidatorSet,
} from '@synddb/bridge-client';
import type { RelayerMetrics } from '../metrics';
import type { Job, JobStore } from '../store/job-store';

/** What a job step needs; one per relayer. */
export interface JobContext {
  store: JobStore;
  reader: BridgeReader;
  submitter: TransactionSubmitter;
  bridgeAddress: string;
  validators: readonly string[];
  validatorTimeoutMs: number;
  pollIntervalMs: number;
  maxBackoffMs: number;
  metrics: RelayerMetrics;
  logger: Logger;
  signal: AbortSignal;
  /** The threshold and keys, cached for a few seconds (one read serves many jobs). */
  validatorSet(): Promise<ValidatorSet>;
  now(): number;
}

/** The next retry time after `attempts` rounds without progress: poll × 2^attempts, capped. */
export function backoff(ctx: JobContext, attempts: number): number {
  const delay = Math.min(ctx.maxBackoffMs, ctx.pollIntervalMs * 2 ** Math.min(attempts, 20));
  return ctx.now() + delay;
}

/** A journal writing each signed transaction and the job's state before the broadcast. */
export function journalFor(ctx: JobContext, job: Job, step: string): SubmitJournal {
  return {
    // one commit each: signing is serialized per account, so every fsync there is felt
    signed(tx: JournaledTransaction) {
      ctx.store.atomically(() => {
        ctx.store.recordTransaction(job.id, step, tx);
        ctx.store.transition(job.id, {
          state: 'signed',
          detail: `${step} nonce ${tx.nonce} tx ${tx.hash} maxFeePerGas ${tx.maxFeePerGas}`,
        });
      });
    },
    broadcast(tx: JournaledTransaction) {
      ctx.store.atomically(() => {
        ctx.store.markTransaction(tx.hash, 'broadcast');
        ctx.store.transition(job.id, {
          state: 'broadcast',
          txHash: tx.hash,
          detail: `${step} ${tx.hash}`,
        });
      });
    },
    rejected(tx: JournaledTransaction, detail: string) {
      ctx.store.markTransaction(tx.hash, 'rejected');
      ctx.logger.warn('transaction refused by every RPC endpoint', {
        job: job.id,
        tx: tx.hash,
        detail,
      });
    },
  };
}
