import { InvalidResponseError } from '../errors';

const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

/**
 * JSON.parse where every integer literal becomes a `bigint` taken from its source text, so u64
 * values above 2^53 are exact (plain JSON.parse rounds them silently). Non-integer numbers stay
 * `number` and fail the u64 checks. Runtimes without JSON.parse source access (Node < 21) keep
 * safe integers and turn unsafe ones into NaN, which the checks reject too.
 */
export function parseJsonExact(text: string, source: string): unknown {
  try {
    return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
      if (typeof value !== 'number') return value;
      const literal = context?.source;
      if (literal !== undefined) return INTEGER_LITERAL.test(literal) ? BigInt(literal) : value;
      return Number.isSafeInteger(value) ? BigInt(value) : Number.NaN;
    });
  } catch (cause) {
    throw new InvalidResponseError(source, 'body is not valid JSON', { cause });
  }
}
