import { z } from 'zod';
import {
  messageSignatureSchema,
  pendingWithdrawalsSchema,
  refusedWithdrawalsSchema,
  signatureErrorSchema,
  stateAttestationSchema,
  withdrawalSignatureSchema,
} from './signature-schemas';

type Json = Record<string, unknown>;

const infoSchema = z
  .object({
    signer: z.string().regex(/^0x[0-9a-f]{40}$/),
    bridge_contract: z.string().regex(/^0x[0-9a-f]{40}$/),
    chain_id: z.number().int().describe('u64, written as JSON number digits even above 2^53'),
  })
  .meta({ id: 'SignerInfo' });
const pendingIdsSchema = z
  .object({ count: z.number().int(), message_ids: z.array(z.string()) })
  .meta({ id: 'PendingMessageIds' });
const healthSchema = z.object({ status: z.literal('healthy') }).meta({ id: 'SignerHealth' });

const SCHEMAS = [
  messageSignatureSchema,
  withdrawalSignatureSchema,
  pendingWithdrawalsSchema,
  refusedWithdrawalsSchema,
  signatureErrorSchema,
  stateAttestationSchema,
  infoSchema,
  pendingIdsSchema,
  healthSchema,
];

export interface SignatureOpenApiOptions {
  /** Whether the withdrawal routes are served (bridge signer mode with its ledger). */
  withdrawals: boolean;
  /** Whether state attestations are served (STATE_ATTESTATION_INTERVAL > 0 in bridge signer mode). */
  stateAttestations: boolean;
}

/** The OpenAPI 3.1 document of the signature API (schemas from the zod schemas of the bodies). */
export function buildSignatureOpenApiDocument(options: SignatureOpenApiOptions): Json {
  const registry = z.registry<{ id: string }>();
  for (const schema of SCHEMAS) {
    registry.add(schema, { id: (schema.meta() as { id: string }).id });
  }
  const schemas = z.toJSONSchema(registry, {
    io: 'output',
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
  }).schemas as Record<string, Json>;
  for (const json of Object.values(schemas)) {
    delete json.$schema;
    delete json.$id;
  }
  const ref = (schema: z.ZodType) => ({
    $ref: `#/components/schemas/${(schema.meta() as { id: string }).id}`,
  });
  const json = (schema: Json) => ({ 'application/json': { schema } });
  const ok = (description: string, schema: Json) => ({ description, content: json(schema) });
  const error = (description: string) => ({
    description,
    content: json(ref(signatureErrorSchema)),
  });
  const paging = [
    { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
    {
      name: 'limit',
      in: 'query',
      required: false,
      description: 'Default and cap: the API maximum (10,000 by default).',
      schema: { type: 'integer', minimum: 0 },
    },
  ];
  const pagingErrors = { '400': error('offset or limit is not one non-negative integer') };
  const notEnabled = options.withdrawals
    ? {}
    : { '404': error('Withdrawal tracking is not enabled (NOT_ENABLED)') };

  const paths: Json = {
    '/health': {
      get: { summary: 'Liveness', responses: { '200': ok('Always', ref(healthSchema)) } },
    },
    '/info': {
      get: {
        summary: 'Signer address, Bridge, chain id',
        responses: { '200': ok('Info', ref(infoSchema)) },
      },
    },
    '/pending': {
      get: {
        summary: 'Message ids of signed withdrawals not yet completed on-chain (reference route)',
        parameters: paging,
        responses: { '200': ok('Ids, oldest first', ref(pendingIdsSchema)), ...pagingErrors },
      },
    },
    '/signatures': {
      get: {
        summary: 'Signatures of withdrawals not yet completed on-chain (reference route)',
        parameters: paging,
        responses: {
          '200': ok('Oldest first', { type: 'array', items: ref(messageSignatureSchema) }),
          ...pagingErrors,
        },
      },
    },
    '/signature/{message_id}': {
      get: {
        summary: 'The signature of one message id (reference route; any case, 0x optional)',
        parameters: [
          { name: 'message_id', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: {
          '200': ok('Signed', ref(messageSignatureSchema)),
          '404': ok('Unknown or not signed (yet): body null', { type: 'null' }),
        },
      },
    },
    '/signatures/withdrawal/{id}': {
      get: {
        summary: 'Withdrawals by request id or message id, with their signature and status',
        description:
          'The id is tried as a request id (exact, URL-encoded, at most 1024 characters) and as a message id (64 hex, any case, 0x optional). Several withdrawals can share an id; at most 100 are listed, oldest first. Refused and unsignable withdrawals are listed with signature null and their reason.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': ok('Oldest first', { type: 'array', items: ref(withdrawalSignatureSchema) }),
          '404': options.withdrawals
            ? ok('No withdrawal has this id: body []', { type: 'array', maxItems: 0 })
            : error('Withdrawal tracking is not enabled (NOT_ENABLED)'),
        },
      },
    },
    '/signatures/pending': {
      get: {
        summary: 'Signed withdrawals not yet completed on-chain, with recipient and amount',
        description:
          'A withdrawal leaves this list when the Bridge emits MessageHandled for its message id (followed with BRIDGE_RPC_URL, after BRIDGE_CONFIRMATIONS blocks).',
        parameters: paging,
        responses: {
          '200': ok('Oldest first', ref(pendingWithdrawalsSchema)),
          ...pagingErrors,
          ...notEnabled,
        },
      },
    },
    '/signatures/refused': {
      get: {
        summary: 'Withdrawals refused by a policy or unsignable, with the reason',
        parameters: paging,
        responses: {
          '200': ok('Oldest first', ref(refusedWithdrawalsSchema)),
          ...pagingErrors,
          ...notEnabled,
        },
      },
    },
    '/signatures/state/{sequence}': {
      get: {
        summary: 'State attestations of a sequence',
        description: options.stateAttestations
          ? 'The state attestations signed for this sequence (every STATE_ATTESTATION_INTERVAL sequences and at every withdrawal): EIP-712 signatures of (sequence, stateRoot, messageHash), domain name "SyndDBStateAttestation", version "1", the chain id and the Bridge address of GET /info. 404 with [] when none was signed for it (yet).'
          : 'State attestations are off on this validator (STATE_ATTESTATION_INTERVAL=0 or not in bridge signer mode): every valid sequence answers 404 STATE_ATTESTATIONS_DISABLED.',
        parameters: [
          {
            name: 'sequence',
            in: 'path',
            required: true,
            schema: { type: 'string', pattern: '^\\d+$' },
          },
        ],
        responses: {
          '200': ok('Attestations', { type: 'array', items: ref(stateAttestationSchema) }),
          '400': error('sequence is not a u64'),
          '404': error('No attestation, or state attestations are not enabled'),
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': ok('OpenAPI 3.1', { type: 'object' }) },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'SyndDB bridge signer signature API', version: '0.1.0' },
    paths,
    components: { schemas },
  };
}
