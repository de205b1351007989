export {
  eip191Digest,
  signRecoverable,
  withdrawalMessageHash,
  withdrawalMessageId,
} from '@synddb/bridge-signer';
export {
  type DatabaseDigest,
  type DigestDatabaseOptions,
  digestDatabase,
  type TableDigest,
} from './db-digest';
export {
  BatchMirrorError,
  DevnetConfigError,
  IngestRequestError,
  SampleAppError,
  SequencerResponseError,
  SequencerStoppedError,
  UnknownBatchError,
} from './errors';
export {
  type RebuildBatchBlobParameters,
  rebuildBatchBlob,
  type UnsignedMessage,
} from './faults/rebuild-batch-blob';
export { captureChangeset } from './sample-app/capture-changeset';
export {
  type AccountRow,
  createSampleApp,
  type SampleApp,
  type SampleAppOptions,
  type SentMessage,
} from './sample-app/create-sample-app';
export { readDatabaseImage } from './sample-app/database-image';
export { SAMPLE_APP_SCHEMA } from './sample-app/schema';
export { SeededRandom } from './sample-app/seeded-random';
export {
  createSequencerClient,
  type ReceiptJson,
  type SequencerClient,
  type SequencerStatusJson,
  type WithdrawalReceiptJson,
} from './sample-app/sequencer-client';
export {
  runWorkload,
  type WorkloadOperation,
  type WorkloadOptions,
  type WorkloadSummary,
} from './sample-app/workload';
export type { BatchStore, ReplaceBatchOptions, StoredBatch } from './sequencer/batch-store';
export type { BatcherStats, FlushResult } from './sequencer/batcher';
export {
  createDevnetSequencer,
  DEFAULT_MAX_BODY_BYTES,
  type DevnetSequencer,
  type DevnetSequencerOptions,
  type StartOptions,
} from './sequencer/create-devnet-sequencer';
export type {
  BridgeSignature,
  MessageReceipt,
  MessageSequencer,
  WithdrawalReceipt,
} from './sequencer/message-sequencer';
export {
  type DevnetWithApp,
  type StartDevnetWithAppOptions,
  startDevnetWithApp,
} from './testing/start-devnet-with-app';
export {
  type RegisterCleanup,
  type StartedSequencer,
  type StartTestSequencerOptions,
  startTestSequencer,
  TEST_SEQUENCER_KEY,
} from './testing/start-test-sequencer';
