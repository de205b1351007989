import { type Context, Hono } from 'hono';
import { HttpApiConfigError, HttpApiError } from '../errors';
import { installJsonErrorHandlers } from '../json-error-handlers';
import { normalizeMessageId } from './normalize-message-id';
import { buildSignatureOpenApiDocument } from './signature-openapi';
import {
  type PendingWithdrawalJson,
  pendingWithdrawalsSchema,
  type StateAttestationJson,
  stateAttestationSchema,
  type WithdrawalSignatureJson,
  withdrawalSignatureSchema,
} from './signature-schemas';

/** A signed withdrawal (docs/compatibility.md#messagesignature-json). */
export interface MessageSignature {
  /** `0x` + 64 lowercase hex. */
  message_id: string;
  /** `0x` + 130 hex: r ‖ s ‖ v, v ∈ {27, 28}. */
  signature: string;
  /** The signer's address, lowercase. */
  signer: string;
  /** Unix seconds. */
  signed_at: number;
}

export interface SignatureApiOptions {
  /** Served by GET /info. */
  info: () => { signer: string; bridgeContract: string; chainId: bigint | number };
  /** A signed withdrawal by normalized id ('0x' + 64 lowercase hex), or null. */
  get: (messageId: string) => MessageSignature | null;
  /** Signed withdrawals in signing (sequence) order. */
  list: (limit: number, offset: number) => MessageSignature[];
  /** Number of signed withdrawals. */
  count: () => number;
  /** Most entries one /pending or /signatures response carries (default 10_000); `?offset=N&limit=M` pages. */
  maxList?: number;
  /**
   * `GET /signatures/withdrawal/{id}`: the withdrawals whose request id is `requestId` or whose
   * message id is `messageId` (normalized; null when the id is not one), oldest first, at most
   * `limit`. Absent: the route answers 404 `NOT_ENABLED`.
   */
  withdrawals?: (
    requestId: string,
    messageId: string | null,
    limit: number,
  ) => WithdrawalSignatureJson[];
  /** `GET /signatures/pending`: signed withdrawals not yet completed on-chain, oldest first. */
  pendingWithdrawals?: {
    list: (limit: number, offset: number) => PendingWithdrawalJson[];
    count: () => number;
  };
  /** `GET /signatures/refused`: refused and unsignable withdrawals, oldest first. */
  refusedWithdrawals?: {
    list: (limit: number, offset: number) => WithdrawalSignatureJson[];
    count: () => number;
  };
  /**
   * `GET /signatures/state/{sequence}`: the signed state attestations of a sequence (empty: 404
   * with `[]`). Absent (state attestations are off): 404 `STATE_ATTESTATIONS_DISABLED`.
   */
  stateAttestations?: (sequence: bigint) => StateAttestationJson[];
  /** Called after every response, e.g. for access logs. */
  onResponse?: (r: { method: string; path: string; status: number; ms: number }) => void;
}

export const DEFAULT_SIGNATURE_MAX_LIST = 10_000;

const ADDRESS = /^0x[0-9a-f]{40}$/;
const U64_MAX = (1n << 64n) - 1n;
const JSON_TYPE = { 'content-type': 'application/json' };
const SIGNATURE_PREFIX = '/signature/';
const WITHDRAWAL_PREFIX = '/signatures/withdrawal/';
/** Longest request id (decoded) the withdrawal look-up accepts. */
export const MAX_REQUEST_ID_LOOKUP = 1024;
/** Most withdrawals one `/signatures/withdrawal/{id}` answer lists. */
const MAX_WITHDRAWALS_PER_ID = 100;
const U64_TEXT = /^(0|[1-9][0-9]{0,19})$/;

/**
 * The bridge signer's signature API (docs/compatibility.md#signature-api), served on its own port
 * (`BRIDGE_SIGNATURE_ENDPOINT`, default `0.0.0.0:8081`) with `serveValidatorApi`: `/health`,
 * `/info`, `/pending`, `/signature/{message_id}` and `/signatures` (the reference's), and the
 * plan's `/signatures/withdrawal/{request_id or message_id}`, `/signatures/pending`,
 * `/signatures/state/{sequence}`, plus `/signatures/refused` and `/openapi.json`. The relayer calls
 * `GET /signature/{message_id}` (docs/compatibility.md#relayer-interface). Unlike the reference
 * the id lookup is case-insensitive, and the list routes page with `?offset=N&limit=M` (at most
 * `maxList` entries each).
 */
export function createSignatureApi(options: SignatureApiOptions): Hono {
  const maxList = options.maxList ?? DEFAULT_SIGNATURE_MAX_LIST;
  if (!Number.isSafeInteger(maxList) || maxList < 1) {
    throw new HttpApiConfigError(`maxList must be a positive integer, got ${String(maxList)}`);
  }
  const { onResponse } = options;

  const app = new Hono();
  app.use(async (c, next) => {
    const started = performance.now();
    // Before the handler: a header set on a finished response makes Hono rebuild it (a copy).
    c.header('cache-control', 'no-store');
    try {
      await next();
    } finally {
      if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
      onResponse?.({
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: performance.now() - started,
      });
    }
  });

  app.get('/health', (c) => c.json({ status: 'healthy' }));

  app.get('/info', (c) => c.body(infoJson(options.info()), 200, JSON_TYPE));

  app.get('/pending', (c) => {
    const { limit, offset } = page(c, maxList);
    const ids = read(options, limit, offset).map((s) => s.message_id);
    return c.json({ count: options.count(), message_ids: ids });
  });

  app.get('/signatures', (c) => {
    const { limit, offset } = page(c, maxList);
    return c.json(read(options, limit, offset).map(pick));
  });

  // Every path under /signature/ is a look-up, so ids with `/` (encoded or not) also answer null.
  app.get(`${SIGNATURE_PREFIX}*`, (c) => {
    const id = normalizeMessageId(rawId(c.req.url));
    const signature = id === null ? null : options.get(id);
    return signature === null ? c.json(null, 404) : c.json(pick(signature));
  });

  app.get('/signatures/pending', (c) => {
    const source = enabled(options.pendingWithdrawals, 'withdrawal tracking');
    const { limit, offset } = page(c, maxList);
    const items = limit === 0 ? [] : source.list(limit, offset).slice(0, limit);
    return c.json({ count: source.count(), withdrawals: items.map(pickPending) });
  });

  app.get('/signatures/refused', (c) => {
    const source = enabled(options.refusedWithdrawals, 'withdrawal tracking');
    const { limit, offset } = page(c, maxList);
    const items = limit === 0 ? [] : source.list(limit, offset).slice(0, limit);
    return c.json({ count: source.count(), withdrawals: items.map(pickWithdrawal) });
  });

  app.get(`${WITHDRAWAL_PREFIX}*`, (c) => {
    const find = enabled(options.withdrawals, 'withdrawal tracking');
    const id = pathRest(c.req.url, WITHDRAWAL_PREFIX, MAX_REQUEST_ID_LOOKUP);
    if (id === null || id === '') return c.json([], 404);
    const found = find(id, normalizeMessageId(id), MAX_WITHDRAWALS_PER_ID)
      .slice(0, MAX_WITHDRAWALS_PER_ID)
      .map(pickWithdrawal);
    return c.json(found, found.length === 0 ? 404 : 200);
  });

  app.get('/signatures/state/:sequence', (c) => {
    const text = c.req.param('sequence');
    if (!U64_TEXT.test(text) || BigInt(text) >= 2n ** 64n) {
      throw new HttpApiError(400, 'INVALID_REQUEST', 'invalid request: sequence must be a u64');
    }
    if (options.stateAttestations === undefined) {
      throw new HttpApiError(
        404,
        'STATE_ATTESTATIONS_DISABLED',
        'state attestations are not enabled on this validator',
      );
    }
    const attestations = options.stateAttestations(BigInt(text)).map(pickAttestation);
    return c.json(attestations, attestations.length === 0 ? 404 : 200);
  });

  app.get('/openapi.json', (c) =>
    c.json(
      buildSignatureOpenApiDocument({
        withdrawals: options.withdrawals !== undefined,
        stateAttestations: options.stateAttestations !== undefined,
      }),
    ),
  );

  for (const path of [
    '/health',
    '/info',
    '/pending',
    '/signatures',
    `${SIGNATURE_PREFIX}*`,
    '/signatures/pending',
    '/signatures/refused',
    `${WITHDRAWAL_PREFIX}*`,
    '/signatures/state/:sequence',
    '/openapi.json',
  ]) {
    app.all(path, (c) =>
      c.json({ error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' }, 405, {
        allow: 'GET, HEAD',
      }),
    );
  }

  installJsonErrorHandlers(app);
  return app;
}

/** The id segment(s) of the request URL, percent-decoded exactly once ('' when malformed). */
function rawId(url: string): string {
  // A valid id is 64-66 characters.
  return pathRest(url, SIGNATURE_PREFIX, 66) ?? '';
}

/**
 * What follows `prefix` in the request path, percent-decoded exactly once; null when malformed or
 * longer than `maxLength` characters (checked before decoding: 3 times that when all encoded).
 */
function pathRest(url: string, prefix: string, maxLength: number): string | null {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const end = url.indexOf('?', start);
  const path = url.slice(start, end < 0 ? undefined : end);
  if (!path.startsWith(prefix)) return null;
  const raw = path.slice(prefix.length);
  if (raw.length > 3 * maxLength) return null;
  try {
    const decoded = decodeURIComponent(raw);
    return decoded.length > maxLength ? null : decoded;
  } catch {
    return null;
  }
}

function enabled<T>(source: T | undefined, what: string): T {
  if (source === undefined) {
    throw new HttpApiError(404, 'NOT_ENABLED', `${what} is not enabled on this signature API`);
  }
  return source;
}

const WITHDRAWAL_KEYS = Object.keys(
  withdrawalSignatureSchema.shape,
) as (keyof WithdrawalSignatureJson)[];
const PENDING_KEYS = Object.keys(
  pendingWithdrawalsSchema.shape.withdrawals.element.shape,
) as (keyof PendingWithdrawalJson)[];

/** Only the documented fields, in the documented order. */
function pickWithdrawal(w: WithdrawalSignatureJson): WithdrawalSignatureJson {
  return Object.fromEntries(
    WITHDRAWAL_KEYS.map((k) => [k, w[k] ?? null]),
  ) as WithdrawalSignatureJson;
}

const ATTESTATION_KEYS = Object.keys(
  stateAttestationSchema.shape,
) as (keyof StateAttestationJson)[];

function pickAttestation(a: StateAttestationJson): StateAttestationJson {
  return Object.fromEntries(ATTESTATION_KEYS.map((k) => [k, a[k]])) as StateAttestationJson;
}

function pickPending(w: PendingWithdrawalJson): PendingWithdrawalJson {
  return Object.fromEntries(PENDING_KEYS.map((k) => [k, w[k]])) as PendingWithdrawalJson;
}

/** Only the documented fields, whatever else the store's objects carry. */
function pick(s: MessageSignature): MessageSignature {
  return {
    message_id: s.message_id,
    signature: s.signature,
    signer: s.signer,
    signed_at: s.signed_at,
  };
}

function read(options: SignatureApiOptions, limit: number, offset: number): MessageSignature[] {
  if (limit === 0) return [];
  const entries = options.list(limit, offset);
  return entries.length > limit ? entries.slice(0, limit) : entries;
}

/** `?offset=N&limit=M`: decimal integers; `limit` defaults to and is capped at `maxList`. */
function page(c: Context, maxList: number): { limit: number; offset: number } {
  const offset = integerParam(c, 'offset') ?? 0;
  const limit = integerParam(c, 'limit');
  return { offset, limit: limit === undefined ? maxList : Math.min(limit, maxList) };
}

function integerParam(c: Context, name: string): number | undefined {
  const values = c.req.queries(name);
  if (values === undefined || values.length === 0) return undefined;
  const text = values[0]!;
  if (values.length > 1 || !/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new HttpApiError(
      400,
      'INVALID_REQUEST',
      `invalid request: ${name} must be one non-negative integer`,
    );
  }
  return Number(text);
}

/**
 * `{"signer","bridge_contract","chain_id"}` with the chain id written as JSON number digits, so a
 * u64 above 2^53 stays exact (the reference serializes it as a u64 number too).
 */
function infoJson(info: ReturnType<SignatureApiOptions['info']>): string {
  const signer = info.signer.toLowerCase();
  const bridge = info.bridgeContract.toLowerCase();
  const { chainId } = info;
  const validChainId =
    typeof chainId === 'bigint'
      ? chainId >= 0n && chainId <= U64_MAX
      : Number.isInteger(chainId) && chainId >= 0 && chainId < 2 ** 64;
  if (!ADDRESS.test(signer) || !ADDRESS.test(bridge) || !validChainId) {
    throw new HttpApiError(500, 'SIGNER_INFO_INVALID', 'the signer info is invalid');
  }
  const digits = BigInt(chainId).toString();
  return `{"signer":${JSON.stringify(signer)},"bridge_contract":${JSON.stringify(bridge)},"chain_id":${digits}}`;
}
