import {
  BridgeCallError,
  encodeRegisterKeyWithSignature,
  type KeyType,
} from '@synddb/bridge-client';
import type { Job } from '../store/job-store';
import { backoff, type JobContext, journalFor } from './job-context';
import { settleTransaction } from './settle-transaction';
import { fail, handleSendError } from './withdrawal-job';

/** A key registration job's request (the `/register-key` body, validated). */
export interface RegisterKeyRequestJson {
  keyType: KeyType;
  /** The key being registered (slot 4 of publicValues), lowercase. */
  key: string;
  publicValues: string;
  proofBytes: string;
  deadline: string;
  signature: string;
}

/**
 * One round of a key registration (the reference's flow, through the job machinery): a key
 * already valid is done without a transaction; a passed deadline fails; otherwise
 * `registerKeyWithSignature` is simulated, sent and awaited. `KeyAlreadyExists` (0xe0accd63, the
 * real selector) counts as success.
 */
export async function runRegisterKeyRound(ctx: JobContext, job: Job): Promise<void> {
  const request = JSON.parse(job.request) as RegisterKeyRequestJson;
  const done = (detail: string, txHash: string | null) => {
    ctx.store.transition(job.id, {
      state: 'confirmed',
      reason: null,
      detail,
      result: JSON.stringify({ registeredKey: request.key }),
      ...(txHash ? { txHash } : {}),
    });
  };
  const live = ctx.store.liveTransactions(job.id);
  if (live.length > 0) {
    const nonce = live[live.length - 1]!.nonce;
    const outcome = await ctx.submitter.resume(
      live.filter((t) => t.nonce === nonce),
      journalFor(ctx, job, 'register-key'),
      { signal: ctx.signal },
    );
    await settleTransaction(ctx, job, outcome);
  }
  if (await ctx.reader.isKeyValid(request.keyType, request.key)) {
    done('key is valid on-chain', job.txHash);
    return;
  }
  if (BigInt(request.deadline) <= BigInt(Math.floor(ctx.now() / 1000))) {
    fail(ctx, job, 'deadline passed before the key was registered', 'deadline');
    return;
  }
  const tx = {
    to: ctx.bridgeAddress,
    data: encodeRegisterKeyWithSignature({
      keyType: request.keyType,
      publicValues: request.publicValues,
      proofBytes: request.proofBytes,
      deadline: BigInt(request.deadline),
      signature: request.signature,
    }),
  };
  ctx.store.transition(job.id, { state: 'ready', reason: null });
  try {
    const gas = await ctx.submitter.simulate(tx);
    ctx.store.transition(job.id, { state: 'simulated', detail: `register-key gas ${gas}` });
    const outcome = await ctx.submitter.send(tx, journalFor(ctx, job, 'register-key'), {
      signal: ctx.signal,
      gasEstimate: gas,
    });
    ctx.metrics.submissions.inc({ step: 'register-key' });
    const { success, reason } = await settleTransaction(ctx, job, outcome);
    if (success === true && outcome.status === 'mined') {
      done(`registered in block ${outcome.receipt.blockNumber}`, outcome.receipt.hash);
      return;
    }
    ctx.store.transition(job.id, {
      state: 'ready',
      reason: `${reason ?? 'not registered'}; re-checking`,
      attempts: job.attempts + 1,
      nextAttemptAt: backoff(ctx, job.attempts),
    });
  } catch (error) {
    if (error instanceof BridgeCallError && error.revert?.name === 'KeyAlreadyExists') {
      done('KeyAlreadyExists: already registered', null);
      return;
    }
    handleSendError(ctx, job, error);
  }
}
