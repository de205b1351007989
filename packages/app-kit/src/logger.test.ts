import { createLogger } from '@synddb/app-kit';
import { describe, expect, it } from 'vitest';

const at = () => new Date('2026-01-02T03:04:05.678Z');

describe('createLogger', () => {
  it('writes JSON lines with level filtering, bindings and exact big integers', () => {
    const lines: string[] = [];
    const logger = createLogger({
      json: true,
      level: 'info',
      write: (l) => lines.push(l),
      now: at,
    });
    logger.debug('hidden');
    logger.child({ component: 'sync' }).info('caught up', {
      sequence: 2n ** 63n,
      small: 5n,
      key: new Uint8Array([0xab, 0xcd]),
      skipped: undefined,
    });
    const error = Object.assign(new Error('boom'), { code: 'X_CODE' });
    logger.error('failed', { error });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        time: '2026-01-02T03:04:05.678Z',
        level: 'info',
        msg: 'caught up',
        component: 'sync',
        sequence: '9223372036854775808',
        small: 5,
        key: '0xabcd',
      },
      {
        time: '2026-01-02T03:04:05.678Z',
        level: 'error',
        msg: 'failed',
        error: { name: 'Error', message: 'boom', code: 'X_CODE' },
      },
    ]);
    expect(logger.isEnabled('debug')).toBe(false);
    expect(logger.isEnabled('warn')).toBe(true);
  });

  it('writes readable text lines', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l), now: at });
    logger.debug('catching up', { applied: 10n, head: 100n, eta: '1m05s', note: 'two words' });
    logger.warn('bad', { error: Object.assign(new Error('x y'), { code: 'C' }) });
    expect(lines).toEqual([
      '2026-01-02T03:04:05.678Z DEBUG catching up applied=10 head=100 eta=1m05s note="two words"',
      '2026-01-02T03:04:05.678Z WARN  bad error="[C] x y"',
    ]);
  });
});
