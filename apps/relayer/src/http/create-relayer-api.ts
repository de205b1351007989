import { audienceHash, readPublicValues } from '@synddb/bridge-client';
import { eip191Digest, recoverSignerAddress, withdrawalMessageHash } from '@synddb/bridge-signer';
import { hexToBytes } from '@synddb/protocol';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { RegisterKeyRequestJson } from '../jobs/register-key-job';
import type { WithdrawalRequestJson } from '../jobs/withdrawal-job';
import {
  JOB_STATES,
  type Job,
  type JobState,
  type JobStore,
  TERMINAL_STATES,
} from '../store/job-store';
import { registerKeyBody, submitWithdrawalBody } from './request-schemas';

export interface RelayerApiOptions {
  store: JobStore;
  /** Registry served on /metrics. */
  registry: Registry;
  /** Validators configured: without any, /submit-withdrawal answers 503 as the reference. */
  hasValidators: boolean;
  applications: readonly { audience: string; allowedImageDigests: readonly string[] }[];
  /** How long a waiting request waits for a confirmation (TX_CONFIRMATION_TIMEOUT). */
  confirmationTimeoutMs: number;
  maxBodyBytes: number;
  /** Readiness checks (RPC, database, balance). */
  ready: () => Promise<{
    ready: boolean;
    checks: Record<string, { ok: boolean; detail?: string }>;
  }>;
  /** A new job was stored: run it now. */
  onJob: () => void;
  now?: () => number;
}

const MAX_PAGE = 500;

/**
 * The relayer's HTTP API: the reference's `/health`, `/register-key` and `/submit-withdrawal`
 * (same JSON shapes and statuses), plus `/ready`, `/metrics` and the jobs API
 * (`/withdrawals/{message_id}`, `/withdrawals?state=`).
 */
export function createRelayerApi(options: RelayerApiOptions): Hono {
  const now = options.now ?? Date.now;
  const { store } = options;
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) => c.json({ status: 'failed', error: 'request body too large' }, 413),
  });

  app.get('/health', (c) => c.text('ok'));

  app.get('/ready', async (c) => {
    const result = await options.ready();
    return c.json(result, result.ready ? 200 : 503);
  });

  app.get('/metrics', async (c) =>
    c.body(await options.registry.metrics(), 200, { 'content-type': options.registry.contentType }),
  );

  app.post('/submit-withdrawal', limit, async (c) => {
    if (!options.hasValidators) {
      return c.json({ status: 'failed', tx_hash: null, error: 'no VALIDATOR_URL configured' }, 503);
    }
    const parsed = await parseJson(c, submitWithdrawalBody);
    if ('error' in parsed)
      return c.json({ status: 'failed', tx_hash: null, error: parsed.error }, 400);
    const body = parsed.data;
    try {
      recoverSignerAddress(
        eip191Digest(
          withdrawalMessageHash(
            hexToBytes(body.message_id.slice(2))!,
            body.target_address,
            hexToBytes(body.payload.slice(2))!,
            BigInt(body.native_token_amount),
          ),
        ),
        hexToBytes(body.sequencer_signature.slice(2))!,
      );
    } catch (error) {
      return c.json(
        {
          status: 'failed',
          tx_hash: null,
          error: `sequencer_signature: ${(error as { shortMessage?: string }).shortMessage ?? 'invalid'}`,
        },
        400,
      );
    }
    const request: WithdrawalRequestJson = {
      message_id: body.message_id,
      target_address: body.target_address,
      payload: body.payload,
      native_token_amount: BigInt(body.native_token_amount).toString(),
      sequencer_signature: body.sequencer_signature,
      sequence: Number(body.sequence),
      timestamp: Number(body.timestamp),
    };
    const text = JSON.stringify(request);
    const { job, created } = store.insert({
      id: body.message_id,
      kind: 'withdrawal',
      request: text,
    });
    if (!created && job.request !== text) {
      return c.json(
        {
          status: 'failed',
          tx_hash: job.txHash,
          error: `message ${body.message_id} was already submitted with different content`,
        },
        409,
      );
    }
    if (created) options.onJob();
    if (!wantsWait(c)) return c.json(withdrawalAnswer(job, false).body, 202);
    const settled = await waitForJob(store, job.id, options.confirmationTimeoutMs);
    const answer = withdrawalAnswer(settled, true);
    return c.json(answer.body, answer.status);
  });

  app.post('/register-key', limit, async (c) => {
    const parsed = await parseJson(c, registerKeyBody);
    if ('error' in parsed) return c.json({ error: parsed.error }, 400);
    const body = parsed.data;
    const fields = readPublicValues(hexToBytes(body.publicValues.slice(2))!);
    if (fields === null) return c.json({ error: 'publicValues must be at least 352 bytes' }, 400);
    const nowSeconds = BigInt(Math.floor(now() / 1000));
    if (body.deadline <= nowSeconds) return c.json({ error: 'deadline has passed' }, 400);
    if (body.deadline > nowSeconds + 86_400n) {
      return c.json({ error: 'deadline is more than 24 hours ahead' }, 400);
    }
    const app = options.applications.find((a) => audienceHash(a.audience) === fields.audienceHash);
    if (app === undefined) return c.json({ error: 'audience not configured' }, 403);
    if (
      app.allowedImageDigests.length > 0 &&
      !app.allowedImageDigests.includes(fields.imageDigestHash)
    ) {
      return c.json({ error: 'image digest not allowed' }, 403);
    }
    const keyType = body.keyType === 'sequencer' ? 0 : 1;
    const request: RegisterKeyRequestJson = {
      keyType,
      key: fields.teeSigningKey,
      publicValues: body.publicValues,
      proofBytes: body.proofBytes,
      deadline: body.deadline.toString(),
      signature: body.signature,
    };
    const id = `key:${keyType}:${fields.teeSigningKey}:${body.deadline}`;
    const { job, created } = store.insert({
      id,
      kind: 'register-key',
      request: JSON.stringify(request),
    });
    if (created) options.onJob();
    const settled = await waitForJob(store, job.id, options.confirmationTimeoutMs);
    if (settled.state === 'confirmed') {
      return c.json({
        registeredKey: fields.teeSigningKey,
        ...(settled.txHash ? { txHash: settled.txHash } : {}),
      });
    }
    return c.json(
      {
        ...(settled.txHash ? { txHash: settled.txHash } : {}),
        error:
          settled.state === 'failed'
            ? (settled.reason ?? 'registration failed')
            : `not confirmed within ${options.confirmationTimeoutMs / 1000} s (job ${id} continues: ${settled.state})`,
      },
      500,
    );
  });

  app.get('/withdrawals/:id', (c) => {
    const raw = c.req.param('id').toLowerCase();
    const id = raw.startsWith('0x') ? raw : `0x${raw}`;
    const job = /^0x[0-9a-f]{64}$/.test(id) ? store.get(id) : null;
    if (job === null) return c.json({ error: 'no such withdrawal' }, 404);
    return c.json({
      ...jobJson(job),
      history: store.history(id).map((e) => ({
        at: new Date(e.at).toISOString(),
        state: e.state,
        detail: e.detail,
      })),
      transactions: store.transactions(id).map((t) => ({
        hash: t.hash,
        step: t.step,
        nonce: t.nonce,
        status: t.status,
        max_fee_per_gas: t.maxFeePerGas.toString(),
        max_priority_fee_per_gas: t.maxPriorityFeePerGas.toString(),
        block_number: t.blockNumber,
        gas_used: t.gasUsed,
        signed_at: new Date(t.createdAt).toISOString(),
      })),
    });
  });

  app.get('/withdrawals', (c) => {
    const state = c.req.query('state');
    if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) {
      return c.json({ error: `state must be one of ${JOB_STATES.join(', ')}` }, 400);
    }
    const limitParam = Number(c.req.query('limit') ?? '100');
    const offset = Number(c.req.query('offset') ?? '0');
    if (!Number.isSafeInteger(limitParam) || limitParam < 1 || limitParam > MAX_PAGE) {
      return c.json({ error: `limit must be 1..${MAX_PAGE}` }, 400);
    }
    if (!Number.isSafeInteger(offset) || offset < 0) {
      return c.json({ error: 'offset must be a non-negative integer' }, 400);
    }
    const page = store.list({
      state: state as JobState | undefined,
      kind: 'withdrawal',
      limit: limitParam,
      offset,
    });
    return c.json({
      total: page.total,
      limit: limitParam,
      offset,
      withdrawals: page.jobs.map(jobJson),
    });
  });

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => c.json({ status: 'failed', error: error.message }, 500));
  return app;
}

function wantsWait(c: Context): boolean {
  const wait = c.req.query('wait');
  if (wait === 'false' || wait === '0') return false;
  return !/respond-async/i.test(c.req.header('prefer') ?? '');
}

async function parseJson<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<{ data: z.output<T> } | { error: string }> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    return { error: 'body must be JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    return { error: `${issue.path.join('.') || 'body'}: ${issue.message}` };
  }
  return { data: result.data };
}

/** Resolves with the job once it is confirmed or failed, or as it stands at the timeout. */
export function waitForJob(store: JobStore, id: string, timeoutMs: number): Promise<Job> {
  return new Promise((resolve) => {
    const current = store.get(id)!;
    if (TERMINAL_STATES.has(current.state)) {
      resolve(current);
      return;
    }
    const listener = (job: Job) => {
      if (job.id === id && TERMINAL_STATES.has(job.state)) finish(job);
    };
    const timer = setTimeout(() => finish(store.get(id)!), timeoutMs);
    const finish = (job: Job) => {
      clearTimeout(timer);
      store.events.off('transition', listener);
      resolve(job);
    };
    store.events.on('transition', listener);
  });
}

/** The reference's `{status, tx_hash, error}` for a job and the HTTP status. */
function withdrawalAnswer(job: Job, waited: boolean): { status: 200 | 202 | 500; body: object } {
  const base = { message_id: job.id, state: job.state };
  if (job.state === 'confirmed') {
    return {
      status: 200,
      body: { status: 'confirmed', tx_hash: job.txHash, error: null, ...base },
    };
  }
  if (job.state === 'failed') {
    return {
      status: 500,
      body: { status: 'failed', tx_hash: job.txHash, error: job.reason, ...base },
    };
  }
  const submitted = job.state === 'broadcast' || job.state === 'signed' || job.txHash !== null;
  return {
    status: 202,
    body: {
      status: submitted ? 'submitted' : waited ? 'pending' : 'accepted',
      tx_hash: job.txHash,
      error: null,
      ...base,
    },
  };
}

function jobJson(job: Job) {
  return {
    message_id: job.id,
    state: job.state,
    reason: job.reason,
    tx_hash: job.txHash,
    attempts: job.attempts,
    created_at: new Date(job.createdAt).toISOString(),
    updated_at: new Date(job.updatedAt).toISOString(),
    threshold_met_at:
      job.thresholdMetAt === null ? null : new Date(job.thresholdMetAt).toISOString(),
    next_attempt_at: TERMINAL_STATES.has(job.state)
      ? null
      : new Date(job.nextAttemptAt).toISOString(),
    request: JSON.parse(job.request) as unknown,
  };
}
