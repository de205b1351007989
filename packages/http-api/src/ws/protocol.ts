/**
 * The WebSocket subscription protocol: JSON text frames both ways. See the package README
 * ("WebSocket subscriptions") for the full description.
 */

export type Channel = 'sequences' | 'rows';

export type ClientId = string | number;

export type ClientMessage =
  | { op: 'subscribe'; id: ClientId | undefined; channel: 'sequences' }
  | {
      op: 'subscribe';
      id: ClientId | undefined;
      channel: 'rows';
      /** null = every table. */
      tables: string[] | null;
      /** undefined = the server default. */
      values: boolean | undefined;
    }
  | { op: 'unsubscribe'; id: ClientId | undefined; channel: Channel }
  | { op: 'ping'; id: ClientId | undefined };

/** Error codes of `{"op":"error"}` frames. */
export const WS_ERROR_CODES = [
  'BINARY_NOT_SUPPORTED',
  'BAD_JSON',
  'BAD_MESSAGE',
  'INVALID_ID',
  'UNKNOWN_OP',
  'UNKNOWN_CHANNEL',
  'INVALID_TABLES',
  'INVALID_VALUES',
  'NOT_SUBSCRIBED',
  'DECODE_FAILED',
] as const;
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/** Close codes the server uses. */
export const WS_CLOSE_CODES = {
  /** The server is shutting down. */
  shutdown: 1001,
  /** Too many invalid messages from the client. */
  tooManyErrors: 1008,
  /** `maxClients` reached. */
  tooManyClients: 1013,
  /** The client did not read fast enough: its send buffer exceeded `maxBufferedBytes`. */
  slowConsumer: 4008,
} as const;

export class ClientMessageError {
  constructor(
    readonly code: WsErrorCode,
    readonly message: string,
    readonly id: ClientId | undefined,
  ) {}
}

export interface ParseLimits {
  maxTables: number;
  maxTableNameLength: number;
}

const MAX_ID_LENGTH = 128;

function parseId(raw: unknown): ClientId | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string' && raw.length <= MAX_ID_LENGTH) return raw;
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
  throw new ClientMessageError(
    'INVALID_ID',
    `"id" must be a string of at most ${MAX_ID_LENGTH} characters or a safe integer`,
    undefined,
  );
}

/** Parses one client text frame; throws `ClientMessageError` with a stable code. */
export function parseClientMessage(text: string, limits: ParseLimits): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ClientMessageError('BAD_JSON', 'message is not valid JSON', undefined);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ClientMessageError('BAD_MESSAGE', 'message must be a JSON object', undefined);
  }
  const m = raw as Record<string, unknown>;
  const id = parseId(m.id);
  const fail = (code: WsErrorCode, message: string): never => {
    throw new ClientMessageError(code, message, id);
  };
  if (m.op === 'ping') return { op: 'ping', id };
  if (m.op !== 'subscribe' && m.op !== 'unsubscribe') {
    return fail(
      'UNKNOWN_OP',
      `"op" must be "subscribe", "unsubscribe" or "ping", got ${describe(m.op)}`,
    );
  }
  if (m.channel !== 'sequences' && m.channel !== 'rows') {
    return fail(
      'UNKNOWN_CHANNEL',
      `"channel" must be "sequences" or "rows", got ${describe(m.channel)}`,
    );
  }
  if (m.op === 'unsubscribe') return { op: 'unsubscribe', id, channel: m.channel };
  if (m.channel === 'sequences') return { op: 'subscribe', id, channel: 'sequences' };

  let tables: string[] | null = null;
  if (m.tables !== undefined && m.tables !== null) {
    const list = m.tables;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.length > limits.maxTables ||
      !list.every(
        (t) => typeof t === 'string' && t.length > 0 && t.length <= limits.maxTableNameLength,
      )
    ) {
      return fail(
        'INVALID_TABLES',
        `"tables" must be 1..${limits.maxTables} non-empty table names of at most ${limits.maxTableNameLength} characters`,
      );
    }
    tables = [...new Set(list as string[])];
  }
  if (m.values !== undefined && typeof m.values !== 'boolean') {
    return fail('INVALID_VALUES', `"values" must be a boolean, got ${describe(m.values)}`);
  }
  return { op: 'subscribe', id, channel: 'rows', tables, values: m.values };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
