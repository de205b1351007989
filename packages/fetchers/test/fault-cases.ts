import { storageFaults } from '@synddb/test-support/storage';

/**
 * Per-attempt timeout of the fetchers in fault tests. Slow bodies below take 20 x 100 ms and
 * stalled ones never end, so they always exceed it; a healthy loopback request never comes close
 * (and if one did on a loaded machine, it would only cost a retry, not a failed assertion).
 */
export const FAULT_TIMEOUT_MS = 500;

/** Every way a storage request fails, as the fetchers must survive it. */
export const STORAGE_FAULTS = storageFaults({ slowBodyIntervalMs: 100 });

/** Fetcher options for fault tests: the timeout above, fast retries, one spare attempt. */
export const FAULT_FETCHER_OPTIONS = {
  timeoutMs: FAULT_TIMEOUT_MS,
  maxRetries: 3,
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 5,
} as const;
