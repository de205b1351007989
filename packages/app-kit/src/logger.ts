export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  isEnabled(level: LogLevel): boolean;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

export interface CreateLoggerOptions {
  /** JSON lines (`{"time","level","msg",...fields}`) instead of text. Default false. */
  json?: boolean;
  /** Minimum level. Default info. */
  level?: LogLevel;
  /** Where a finished line goes (without the newline it adds). Default: stdout. */
  write?: (line: string) => void;
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/** A small structured logger: JSON lines for collectors, `key=value` text for terminals. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const json = options.json ?? false;

  const make = (bindings: LogFields): Logger => {
    const log = (at: LogLevel, message: string, fields?: LogFields) => {
      if (RANK[at] < RANK[level]) return;
      const all = fields === undefined ? bindings : { ...bindings, ...fields };
      const time = now().toISOString();
      if (json) {
        const record: Record<string, unknown> = { time, level: at, msg: message };
        for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = jsonValue(v);
        write(JSON.stringify(record));
      } else {
        const parts = [time, at.toUpperCase().padEnd(5), message];
        for (const [k, v] of Object.entries(all))
          if (v !== undefined) parts.push(`${k}=${textValue(v)}`);
        write(parts.join(' '));
      }
    };
    return {
      level,
      isEnabled: (at) => RANK[at] >= RANK[level],
      trace: (m, f) => log('trace', m, f),
      debug: (m, f) => log('debug', m, f),
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({});
}

function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; details?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(e.code !== undefined ? { code: e.code } : {}),
    };
  }
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonValue(v)]));
  }
  return value;
}

function textValue(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return JSON.stringify(`${code === undefined ? '' : `[${String(code)}] `}${value.message}`);
  }
  const v = jsonValue(value);
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}
