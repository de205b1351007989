export { SyndDBError } from './errors';
export type {
  BatchInfo,
  CborBatch,
  ChangesetBatchRequest,
  ChangesetData,
  CoseSign1,
  Payload,
  ProtectedHeader,
  SignedBatch,
  SignedMessage,
  SnapshotData,
  SnapshotRequest,
  WithdrawalRequest,
} from './types';
export { MessageType } from './types';
