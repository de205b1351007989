import type { Fault } from './fault-types';

export interface StorageFaultsOptions {
  /** The pause between the chunks of the slow body (20 chunks). Default 100 ms. */
  slowBodyIntervalMs?: number;
}

/**
 * Every way a storage request fails, as a client must survive it: error statuses (with and
 * without Retry-After), resets before and in the body, a truncated body with the full
 * Content-Length, a slow body, a stalled body, no answer at all. A client's per-attempt timeout
 * should be below 20 x `slowBodyIntervalMs`, so the slow body and the stalls exceed it.
 */
export function storageFaults(
  options: StorageFaultsOptions = {},
): { name: string; fault: Fault }[] {
  return [
    { name: 'HTTP 500', fault: { kind: 'status', status: 500 } },
    { name: 'HTTP 502', fault: { kind: 'status', status: 502 } },
    { name: 'HTTP 503', fault: { kind: 'status', status: 503 } },
    { name: 'HTTP 429 (Retry-After: 0)', fault: { kind: 'status', status: 429, retryAfter: 0 } },
    { name: 'a reset before the headers', fault: { kind: 'reset' } },
    { name: 'a reset mid-body', fault: { kind: 'reset-mid-body' } },
    { name: 'a truncated body (correct Content-Length)', fault: { kind: 'truncate' } },
    {
      name: 'a slow body',
      fault: { kind: 'slow-body', intervalMs: options.slowBodyIntervalMs ?? 100 },
    },
    { name: 'a stalled body', fault: { kind: 'stall' } },
    { name: 'no answer at all', fault: { kind: 'hang' } },
  ];
}
