// @synddb/test-support: what the workspace's tests share. Importing it registers vitest hooks
// (the cleanup registry), so only test files and their helpers import it. The storage test
// servers are in `@synddb/test-support/storage`, the JSON-RPC fault proxy in
// `@synddb/test-support/chain`.
export { ThrownAssertionError, thrown } from './assert/thrown';
export { type Cleanup, type OnCleanupOptions, onCleanup } from './cleanup/on-cleanup';
export { tempDir } from './cleanup/temp-dir';
export { idleConnection } from './net/idle-connection';
export {
  childrenOf,
  commandOf,
  isRunning,
  queryWorkersOf,
} from './processes/process-tree';
export { seededRandom } from './random/seeded-random';
export {
  TEST_SEED_ENV,
  type TestRandom,
  type TestSeedOptions,
  testRandom,
  testSeed,
} from './random/test-seed';
export { EventTimeoutError, type NextEventOptions, nextEvent } from './wait/next-event';
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait/wait-for';
