import {
  BridgeCallError,
  collectValidatorSignatures,
  encodeHandleMessage,
  encodeInitializeAndHandle,
  encodeSignMessage,
  FeeCapExceededError,
  formatRevert,
  nextWithdrawalStep,
  type SendOutcome,
  type TransactionRequest,
  type WithdrawalMessage,
} from '@synddb/bridge-client';
import type { Job } from '../store/job-store';
import { backoff, type JobContext, journalFor } from './job-context';
import { settleTransaction } from './settle-transaction';

/** A withdrawal job's request (the `/submit-withdrawal` body, validated). */
export interface WithdrawalRequestJson {
  message_id: string;
  target_address: string;
  payload: string;
  native_token_amount: string;
  sequencer_signature: string;
  sequence: number;
  timestamp: number;
}

export function withdrawalMessage(request: WithdrawalRequestJson): WithdrawalMessage {
  return {
    messageId: request.message_id,
    targetAddress: request.target_address,
    payload: request.payload,
    nativeTokenAmount: BigInt(request.native_token_amount),
    sequencerSignature: request.sequencer_signature,
    submittedAt: BigInt(request.timestamp),
  };
}

/** Mined reverts of one job before it is failed (each is re-simulated and reconciled first). */
const MAX_MINED_REVERTS = 3;

/**
 * One round of a withdrawal job. First the journal: a signed or broadcast transaction from
 * before (a restart) is resumed, never signed again. Then the chain: a completed message is
 * confirmed, whoever completed it. Then the signatures: every validator, checked locally against
 * the current keys; fewer than the threshold waits with backoff. Then the next Bridge call
 * (initialize-and-handle, or only the missing steps of a message someone else initialized),
 * simulated, signed, journaled, broadcast and awaited. Permanent errors fail the job, transient
 * ones reschedule it.
 */
export async function runWithdrawalRound(ctx: JobContext, job: Job): Promise<void> {
  const request = JSON.parse(job.request) as WithdrawalRequestJson;
  const id = request.message_id;
  const log = ctx.logger.child({ job: id });

  const live = ctx.store.liveTransactions(id);
  if (live.length > 0) {
    const nonce = live[live.length - 1]!.nonce;
    const versions = live.filter((t) => t.nonce === nonce);
    log.info('resuming journaled transaction', { nonce, versions: versions.length });
    const outcome = await ctx.submitter.resume(versions, journalFor(ctx, job, versions[0]!.step), {
      signal: ctx.signal,
    });
    await afterOutcome(ctx, job, versions[0]!.step, outcome);
    return;
  }

  const status = await ctx.reader.messageStatus(id);
  if (status.completed) {
    confirm(ctx, job, 'completed on-chain');
    return;
  }
  const set = await ctx.validatorSet();
  const collected = await collectValidatorSignatures({
    validators: ctx.validators,
    messageId: id,
    validKeys: new Set(set.keys),
    timeoutMs: ctx.validatorTimeoutMs,
    signal: ctx.signal,
  });
  for (const r of collected.results) {
    if (r.status === 'ok') ctx.metrics.signaturesFetched.inc({ validator: r.validator });
    else if (r.status === 'rejected') {
      ctx.metrics.signaturesRejected.inc({ validator: r.validator, reason: r.reason });
      log.warn('validator signature rejected', {
        validator: r.validator,
        reason: r.reason,
        detail: r.detail,
      });
    } else if (r.status === 'error') ctx.metrics.validatorErrors.inc({ validator: r.validator });
  }
  const signedOnChain = status.initialized ? await ctx.reader.signedOnChain(id, set.keys) : [];
  const step = nextWithdrawalStep({
    status,
    threshold: set.threshold,
    signatures: collected.signatures,
    signedOnChain,
  });
  const summary = collected.results
    .map((r) => `${r.validator}=${r.status === 'rejected' ? `rejected:${r.reason}` : r.status}`)
    .join(' ');
  if (step.kind === 'completed') {
    confirm(ctx, job, 'completed on-chain');
    return;
  }
  if (step.kind === 'wait-signatures') {
    ctx.store.transition(id, {
      state: 'collecting_signatures',
      reason: `${step.have} of ${step.threshold} signatures (${summary})`,
      attempts: job.attempts + 1,
      nextAttemptAt: backoff(ctx, job.attempts),
    });
    return;
  }
  const thresholdMetAt = job.thresholdMetAt ?? ctx.now();
  let tx: TransactionRequest;
  if (step.kind === 'initialize-and-handle') {
    tx = {
      to: ctx.bridgeAddress,
      data: encodeInitializeAndHandle(withdrawalMessage(request), step.signatures),
    };
  } else if (step.kind === 'sign') {
    tx = { to: ctx.bridgeAddress, data: encodeSignMessage(id, step.signature) };
  } else {
    tx = { to: ctx.bridgeAddress, data: encodeHandleMessage(id) };
  }
  ctx.store.transition(id, {
    state: 'ready',
    reason: null,
    thresholdMetAt,
    detail: `${step.kind}${step.kind === 'initialize-and-handle' ? ` with ${step.signers.join(',')}` : ''}${status.initialized ? ' (already initialized on-chain)' : ''}`,
  });
  try {
    const gas = await ctx.submitter.simulate(tx);
    ctx.store.transition(id, { state: 'simulated', detail: `${step.kind} gas ${gas}` });
    const outcome = await ctx.submitter.send(tx, journalFor(ctx, job, step.kind), {
      signal: ctx.signal,
      gasEstimate: gas,
    });
    ctx.metrics.submissions.inc({ step: step.kind });
    ctx.metrics.feeCapPaused.set(0);
    await afterOutcome(ctx, job, step.kind, outcome);
  } catch (error) {
    handleSendError(ctx, job, error);
  }
}

async function afterOutcome(
  ctx: JobContext,
  job: Job,
  step: string,
  outcome: SendOutcome,
): Promise<void> {
  const settled = await settleTransaction(ctx, job, outcome);
  const { success } = settled;
  const hash = outcome.status === 'mined' ? outcome.receipt.hash : null;
  if (success === true) {
    if (step === 'sign') {
      // more steps: reconcile again at once
      ctx.store.transition(job.id, {
        state: 'ready',
        detail: `sign mined in ${hash}`,
        nextAttemptAt: ctx.now(),
        attempts: 0,
      });
      return;
    }
    const status = await ctx.reader.messageStatus(job.id);
    if (status.completed) {
      confirm(
        ctx,
        job,
        `mined in block ${outcome.status === 'mined' ? outcome.receipt.blockNumber : '?'}`,
        hash,
      );
      return;
    }
  }
  const reverts = ctx.store.transactions(job.id).filter((t) => t.status === 'reverted').length;
  if (reverts >= MAX_MINED_REVERTS) {
    fail(
      ctx,
      job,
      `${reverts} transactions reverted on-chain (last: ${settled.reason ?? hash})`,
      'mined-reverted',
    );
    return;
  }
  // reverted, filled or dropped: re-read the chain before anything else
  ctx.store.transition(job.id, {
    state: 'ready',
    reason: `${settled.reason ?? 'not completed on-chain'}; reconciling`,
    detail: settled.reason,
    nextAttemptAt: ctx.now(),
  });
}

export function handleSendError(ctx: JobContext, job: Job, error: unknown): void {
  const current = ctx.store.get(job.id) ?? job;
  if (ctx.signal.aborted) throw error;
  if (error instanceof FeeCapExceededError) {
    ctx.metrics.feeCapPaused.set(1);
    ctx.logger.warn('fee cap reached: job paused', {
      job: job.id,
      required: error.requiredMaxFeePerGas,
      cap: error.feeCap,
    });
    ctx.store.transition(job.id, {
      state: 'ready',
      reason: `paused: fee cap (network needs ${error.requiredMaxFeePerGas} wei/gas, cap ${error.feeCap})`,
      attempts: current.attempts + 1,
      nextAttemptAt: backoff(ctx, current.attempts),
    });
    return;
  }
  if (error instanceof BridgeCallError && error.revert !== null) {
    ctx.metrics.reverts.inc({ error: error.revert.name });
    if (error.revert.name === 'MessageAlreadyInitialized' || error.revert.name === 'InvalidStage') {
      // someone else moved it: reconcile (only the missing steps are done)
      ctx.store.transition(job.id, {
        state: 'ready',
        reason: `${formatRevert(error.revert)}: reconciling with the chain`,
        nextAttemptAt: ctx.now(),
      });
      return;
    }
    if (error.permanent) {
      fail(ctx, job, formatRevert(error.revert), error.revert.name);
      return;
    }
  }
  const reason =
    error instanceof BridgeCallError
      ? `${error.revert !== null ? formatRevert(error.revert) : error.shortMessage}${error.details ? `: ${error.details.slice(0, 300)}` : ''}`
      : ((error as Error).message?.slice(0, 300) ?? String(error));
  ctx.logger.warn('job step failed, retrying', { job: job.id, reason });
  ctx.store.transition(job.id, {
    state:
      current.state === 'signed' || current.state === 'broadcast'
        ? 'ready'
        : current.state === 'received'
          ? 'collecting_signatures'
          : current.state,
    reason,
    attempts: current.attempts + 1,
    nextAttemptAt: backoff(ctx, current.attempts),
  });
}

function confirm(ctx: JobContext, job: Job, detail: string, txHash?: string | null): void {
  const current = ctx.store.get(job.id) ?? job;
  ctx.store.transition(job.id, {
    state: 'confirmed',
    reason: null,
    detail,
    ...(txHash ? { txHash } : {}),
  });
  if (current.thresholdMetAt !== null && txHash) {
    ctx.metrics.thresholdToConfirmation.observe((ctx.now() - current.thresholdMetAt) / 1000);
  }
  ctx.logger.info('withdrawal confirmed', { job: job.id, tx: txHash ?? current.txHash, detail });
}

export function fail(ctx: JobContext, job: Job, reason: string, label: string): void {
  ctx.store.transition(job.id, { state: 'failed', reason });
  ctx.metrics.jobsFailed.inc({ reason: label });
  ctx.logger.warn('job failed', { job: job.id, reason });
}
