import { z } from 'zod';
import { checkValidatorSignature, type SignatureRejection } from './check-validator-signature';

export interface CollectSignaturesOptions {
  /** Base URLs of the validators' signature APIs (BRIDGE_SIGNATURE_ENDPOINT). */
  validators: readonly string[];
  /** `0x` + 64 hex. */
  messageId: string;
  /** The current Validator keys, lowercase. */
  validKeys: ReadonlySet<string>;
  /** Per-validator request timeout. Default 10 s. */
  timeoutMs?: number;
  /** Largest response body read. Default 64 KiB. */
  maxBodyBytes?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** What one validator answered. */
export type ValidatorResult =
  | { validator: string; status: 'ok'; signer: string; signature: string }
  | { validator: string; status: 'missing' }
  | { validator: string; status: 'error'; detail: string }
  | {
      validator: string;
      status: 'rejected';
      reason: SignatureRejection | 'duplicate_signer';
      detail: string;
      signer?: string;
    };

export interface CollectedSignatures {
  /** Checked signatures, one per distinct current Validator key, in validator order. */
  signatures: { signer: string; signature: string; validator: string }[];
  results: ValidatorResult[];
}

const messageSignature = z.object({
  message_id: z.string().max(80),
  signature: z.string().max(200),
  signer: z.string().max(64).optional(),
  signed_at: z.number().optional(),
});

/**
 * Asks every validator for its signature of `messageId` in parallel
 * (`GET {validator}/signature/{id}`, the reference's route; when that route does not exist, the
 * plan's `GET /signatures/withdrawal/{id}`), each bounded by a timeout and a body size, checks
 * each signature locally (`checkValidatorSignature`) and keeps one per signer. A validator that is
 * down, slow, lying or serving an unregistered key only loses its own result.
 */
export async function collectValidatorSignatures(
  options: CollectSignaturesOptions,
): Promise<CollectedSignatures> {
  const id = options.messageId.toLowerCase();
  const results = await Promise.all(
    options.validators.map((validator) => fetchOne(validator, id, options)),
  );
  const signatures: CollectedSignatures['signatures'] = [];
  const seen = new Set<string>();
  const final = results.map((result): ValidatorResult => {
    if (result.status !== 'ok') return result;
    if (seen.has(result.signer)) {
      return {
        validator: result.validator,
        status: 'rejected',
        reason: 'duplicate_signer',
        detail: `${result.signer} already signed through another validator URL`,
        signer: result.signer,
      };
    }
    seen.add(result.signer);
    signatures.push({
      signer: result.signer,
      signature: result.signature,
      validator: result.validator,
    });
    return result;
  });
  return { signatures, results: final };
}

async function fetchOne(
  validator: string,
  id: string,
  options: CollectSignaturesOptions,
): Promise<ValidatorResult> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const base = validator.replace(/\/+$/, '');
  const get = async (path: string) => {
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (options.signal !== undefined) signals.push(options.signal);
    const response = await doFetch(`${base}${path}`, { signal: AbortSignal.any(signals) });
    const text = await readBounded(response, maxBody);
    return { status: response.status, text };
  };
  try {
    let answer = await get(`/signature/${id}`);
    if (answer.status === 404 && answer.text.trim() !== 'null') {
      answer = await get(`/signatures/withdrawal/${id}`);
    }
    if (answer.status === 404) return { validator, status: 'missing' };
    if (answer.status !== 200) {
      return { validator, status: 'error', detail: `HTTP ${answer.status}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      return { validator, status: 'error', detail: 'response is not JSON' };
    }
    if (json === null) return { validator, status: 'missing' };
    const parsed = messageSignature.safeParse(json);
    if (!parsed.success) {
      return { validator, status: 'error', detail: 'response is not a MessageSignature' };
    }
    if (parsed.data.message_id.toLowerCase() !== id) {
      return {
        validator,
        status: 'rejected',
        reason: 'malformed',
        detail: `answered for message ${parsed.data.message_id}`,
      };
    }
    const check = checkValidatorSignature(
      id,
      parsed.data.signature,
      options.validKeys,
      parsed.data.signer,
    );
    if (!check.ok) {
      return {
        validator,
        status: 'rejected',
        reason: check.reason,
        detail: check.detail,
        ...(check.signer === undefined ? {} : { signer: check.signer }),
      };
    }
    return {
      validator,
      status: 'ok',
      signer: check.signer,
      signature: parsed.data.signature.toLowerCase(),
    };
  } catch (error) {
    const e = error as Error;
    const detail =
      e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (e.message ?? String(e));
    return { validator, status: 'error', detail };
  }
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
