import type { Fault } from '../src/faults/fault-types';

/**
 * Per-attempt timeout of the fetchers in fault tests. Slow bodies below take 20 x 100 ms and
 * stalled ones never end, so they always exceed it; a healthy loopback request never comes close
 * (and if one did on a loaded machine, it would only cost a retry, not a failed assertion).
 */
export const FAULT_TIMEOUT_MS = 500;

/** Every way a storage request fails, as the fetchers must survive it. */
export const STORAGE_FAULTS: readonly { name: string; fault: Fault }[] = [
  { name: 'HTTP 500', fault: { kind: 'status', status: 500 } },
  { name: 'HTTP 502', fault: { kind: 'status', status: 502 } },
  { name: 'HTTP 503', fault: { kind: 'status', status: 503 } },
  { name: 'HTTP 429 (Retry-After: 0)', fault: { kind: 'status', status: 429, retryAfter: 0 } },
  { name: 'a reset before the headers', fault: { kind: 'reset' } },
  { name: 'a reset mid-body', fault: { kind: 'reset-mid-body' } },
  { name: 'a truncated body (correct Content-Length)', fault: { kind: 'truncate' } },
  { name: 'a slow body', fault: { kind: 'slow-body', intervalMs: 100 } },
  { name: 'a stalled body', fault: { kind: 'stall' } },
  { name: 'no answer at all', fault: { kind: 'hang' } },
];

/** Fetcher options for fault tests: the timeout above, fast retries, one spare attempt. */
export const FAULT_FETCHER_OPTIONS = {
  timeoutMs: FAULT_TIMEOUT_MS,
  maxRetries: 3,
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 5,
} as const;
