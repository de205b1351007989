/**
 * The plan's signature routes beside the reference's: withdrawals by request id or message id,
 * signed-but-not-completed withdrawals, refused ones, state attestations (off, or served) and the
 * OpenAPI document, over real HTTP; every body checked against its documented schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ServedApi, serveValidatorApi } from '../serve/serve-validator-api';
import { createSignatureApi, type SignatureApiOptions } from './create-signature-api';
import {
  pendingWithdrawalsSchema,
  refusedWithdrawalsSchema,
  stateAttestationSchema,
  type WithdrawalSignatureJson,
  withdrawalSignatureSchema,
} from './signature-schemas';

const SIGNER = '0x00000000000000000000000000000000000000aa';
const BRIDGE = '0x00000000000000000000000000000000000000bb';
const RECIPIENT = '0x5fc8d32690cc91d4c39d9d3abcbd16989f875707';

const mid = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

function withdrawal(
  n: number,
  extra: Partial<WithdrawalSignatureJson> = {},
): WithdrawalSignatureJson {
  return {
    request_id: `req-${n}`,
    message_id: mid(n),
    recipient: RECIPIENT,
    amount: (10n ** 30n + BigInt(n)).toString(),
    sequence: n,
    status: 'accepted',
    signature: `0x${'22'.repeat(64)}1c`,
    signer: SIGNER,
    signed_at: 1_700_000_000 + n,
    policy: null,
    reason: null,
    completed: null,
    ...extra,
  };
}

const LEDGER = [
  withdrawal(1),
  withdrawal(2, { completed: { block_number: 12, transaction_hash: mid(99) } }),
  withdrawal(3, {
    status: 'refused',
    signature: null,
    signer: null,
    signed_at: null,
    policy: 'max_withdrawal',
    reason: 'amount above the per-withdrawal maximum',
  }),
  withdrawal(4, {
    request_id: '0x123',
    message_id: null,
    status: 'unsignable',
    signature: null,
    signer: null,
    signed_at: null,
    policy: 'message_id',
    reason: 'odd number of digits',
  }),
  // a second withdrawal with request id req-1 (same message id)
  withdrawal(5, { request_id: 'req-1', message_id: mid(1) }),
  withdrawal(6, { request_id: 'wd/é?&#', message_id: mid(6) }),
];

function withdrawalOptions(): Partial<SignatureApiOptions> & { calls: unknown[] } {
  const calls: unknown[] = [];
  const pending = LEDGER.filter((w) => w.status === 'accepted' && w.completed === null);
  const refused = LEDGER.filter((w) => w.status !== 'accepted');
  return {
    calls,
    withdrawals: (requestId, messageId, limit) => {
      calls.push([requestId, messageId, limit]);
      return LEDGER.filter(
        (w) => w.request_id === requestId || (messageId !== null && w.message_id === messageId),
      );
    },
    pendingWithdrawals: {
      list: (limit, offset) =>
        pending.slice(offset, offset + limit).map((w) => ({
          message_id: w.message_id!,
          request_id: w.request_id,
          recipient: w.recipient,
          amount: w.amount,
          sequence: w.sequence,
          signed_at: w.signed_at!,
          extra: 'dropped',
        })),
      count: () => pending.length,
    },
    refusedWithdrawals: {
      list: (limit, offset) => refused.slice(offset, offset + limit),
      count: () => refused.length,
    },
  };
}

const servers: ServedApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(extra: Partial<SignatureApiOptions>) {
  const app = createSignatureApi({
    info: () => ({ signer: SIGNER, bridgeContract: BRIDGE, chainId: 31337n }),
    get: () => null,
    list: () => [],
    count: () => 0,
    ...extra,
  });
  const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  servers.push(served);
  return async (path: string, init?: RequestInit) => {
    const res = await fetch(`${served.url}${path}`, init);
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as unknown, res };
  };
}

describe('the plan signature routes', () => {
  it('GET /signatures/withdrawal/{id} finds withdrawals by request id or message id', async () => {
    const options = withdrawalOptions();
    const get = await serve(options);
    const byRequest = await get('/signatures/withdrawal/req-1');
    expect(byRequest.status).toBe(200);
    expect(byRequest.body).toEqual([LEDGER[0], LEDGER[4]]);
    for (const w of byRequest.body as unknown[]) withdrawalSignatureSchema.parse(w);
    // the documented fields, in order (amount a decimal string, exact above 2^53)
    expect(Object.keys((byRequest.body as object[])[0]!)).toEqual(
      Object.keys(withdrawalSignatureSchema.shape),
    );
    expect((byRequest.body as WithdrawalSignatureJson[])[0]!.amount).toBe(
      '1000000000000000000000000000001',
    );

    // by message id: any case, 0x optional
    const upper = mid(1).slice(2).toUpperCase();
    const byId = await get(`/signatures/withdrawal/${upper}`);
    expect(byId.status).toBe(200);
    expect((byId.body as WithdrawalSignatureJson[]).map((w) => w.sequence)).toEqual([1, 5]);
    expect(options.calls.at(-1)).toEqual([upper, mid(1), 100]);

    // refused and unsignable withdrawals are listed with their reason and no signature
    const refused = await get('/signatures/withdrawal/req-3');
    expect(refused.body).toMatchObject([
      { status: 'refused', signature: null, policy: 'max_withdrawal' },
    ]);
    const unsignable = await get(`/signatures/withdrawal/${encodeURIComponent('0x123')}`);
    expect(unsignable.body).toMatchObject([{ status: 'unsignable', message_id: null }]);
    // a completed one carries its block and transaction
    expect((await get('/signatures/withdrawal/req-2')).body).toMatchObject([
      { completed: { block_number: 12, transaction_hash: mid(99) } },
    ]);

    // request ids are percent-decoded exactly once
    const odd = await get(`/signatures/withdrawal/${encodeURIComponent('wd/é?&#')}`);
    expect(odd.status).toBe(200);
    expect((odd.body as WithdrawalSignatureJson[])[0]!.sequence).toBe(6);

    // unknown, empty, too long: 404 []
    expect(await get('/signatures/withdrawal/nope')).toMatchObject({ status: 404, body: [] });
    expect(await get('/signatures/withdrawal/')).toMatchObject({ status: 404, body: [] });
    const calls = options.calls.length;
    expect(await get(`/signatures/withdrawal/${'a'.repeat(1025)}`)).toMatchObject({
      status: 404,
      body: [],
    });
    expect(options.calls).toHaveLength(calls);
    expect(await get('/signatures/withdrawal/%E0%A4%A')).toMatchObject({ status: 404, body: [] });
  });

  it('GET /signatures/pending lists signed, not completed withdrawals with recipient and amount', async () => {
    const get = await serve(withdrawalOptions());
    const pending = await get('/signatures/pending');
    expect(pending.status).toBe(200);
    pendingWithdrawalsSchema.parse(pending.body);
    expect(pending.body).toEqual({
      count: 3,
      withdrawals: [LEDGER[0], LEDGER[4], LEDGER[5]].map((w) => ({
        message_id: w!.message_id,
        request_id: w!.request_id,
        recipient: RECIPIENT,
        amount: w!.amount,
        sequence: w!.sequence,
        signed_at: w!.signed_at,
      })),
    });
    const paged = await get('/signatures/pending?offset=1&limit=1');
    expect(paged.body).toMatchObject({ count: 3, withdrawals: [{ sequence: 5 }] });
    expect((await get('/signatures/pending?limit=x')).status).toBe(400);
  });

  it('GET /signatures/refused lists refused and unsignable withdrawals with the reason', async () => {
    const get = await serve(withdrawalOptions());
    const refused = await get('/signatures/refused');
    refusedWithdrawalsSchema.parse(refused.body);
    expect(refused.body).toEqual({ count: 2, withdrawals: [LEDGER[2], LEDGER[3]] });
  });

  it('GET /signatures/state/{sequence} answers 404 until state attestations exist; 400 for a bad sequence', async () => {
    const get = await serve(withdrawalOptions());
    expect(await get('/signatures/state/12')).toEqual(
      expect.objectContaining({
        status: 404,
        body: {
          error: 'state attestations are not enabled on this validator',
          code: 'STATE_ATTESTATIONS_DISABLED',
        },
      }),
    );
    for (const bad of ['-1', 'x', '01', '18446744073709551616']) {
      expect(await get(`/signatures/state/${bad}`)).toMatchObject({
        status: 400,
        body: { code: 'INVALID_REQUEST' },
      });
    }
    expect((await get('/signatures/state/18446744073709551615')).status).toBe(404);
    const attestation = {
      sequence: '7',
      state_root: `0x${'11'.repeat(32)}`,
      message_hash: `0x${'22'.repeat(32)}`,
      signature: `0x${'33'.repeat(64)}1b`,
      signer: `0x${'44'.repeat(20)}`,
      signed_at: 1700000000,
    };
    const withProvider = await serve({
      stateAttestations: (sequence) =>
        sequence === 7n ? [{ ...attestation, extra: 'dropped' } as typeof attestation] : [],
    });
    const served = await withProvider('/signatures/state/7');
    expect(served).toMatchObject({ status: 200, body: [attestation] });
    expect(Object.keys((served.body as object[])[0]!)).toEqual(Object.keys(attestation));
    stateAttestationSchema.array().parse(served.body);
    expect(await withProvider('/signatures/state/8')).toMatchObject({ status: 404, body: [] });
  });

  it('without withdrawal tracking the new routes answer 404 NOT_ENABLED; other methods 405', async () => {
    const get = await serve({});
    for (const path of ['/signatures/pending', '/signatures/refused', '/signatures/withdrawal/x']) {
      expect(await get(path)).toMatchObject({ status: 404, body: { code: 'NOT_ENABLED' } });
    }
    const post = await get('/signatures/pending', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('GET /openapi.json documents every route and schema', async () => {
    const get = await serve(withdrawalOptions());
    const doc = (await get('/openapi.json')).body as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/health',
        '/info',
        '/pending',
        '/signatures',
        '/signature/{message_id}',
        '/signatures/withdrawal/{id}',
        '/signatures/pending',
        '/signatures/refused',
        '/signatures/state/{sequence}',
        '/openapi.json',
      ].sort(),
    );
    expect(Object.keys(doc.components.schemas.WithdrawalSignature!.properties!)).toEqual(
      Object.keys(withdrawalSignatureSchema.shape),
    );
    expect(JSON.stringify(doc)).toContain('STATE_ATTESTATIONS_DISABLED');
    expect(Object.keys(doc.components.schemas.StateAttestation!.properties!)).toEqual(
      Object.keys(stateAttestationSchema.shape),
    );
  });
});
