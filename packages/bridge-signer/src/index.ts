export { addressFromPublicKey, checksumAddress, recoverSignerAddress } from './address';
export {
  type AdmitWithdrawalParameters,
  type AdmitWithdrawalReturnType,
  admitWithdrawal,
} from './admit-withdrawal';
export {
  type BridgeCompletionFollower,
  type FollowBridgeCompletionsOptions,
  followBridgeCompletions,
  MESSAGE_HANDLED_TOPIC,
} from './chain/follow-bridge-completions';
export { eip191Digest, withdrawalDigest } from './eip191-digest';
export {
  BridgeChainConfigError,
  BridgeChainResponseError,
  BridgeSignatureError,
  BridgeSignerInputError,
  BridgeSignerKeyError,
  OutboxEntryError,
  WithdrawalLedgerError,
  WithdrawalMessageIdError,
  WithdrawalPolicyConfigError,
  WithdrawalPolicyError,
} from './errors';
export {
  type LoadOrCreateSignerKeyOptions,
  type LoadOrCreateSignerKeyReturnType,
  loadOrCreateSignerKey,
} from './key-file';
export {
  LEDGER_SCHEMA_KEY,
  LEDGER_SCHEMA_VERSION,
  migrateLedgerSchema,
} from './ledger/ledger-migrations';
export {
  ALL_RECIPIENTS,
  type BridgeCompletion,
  type ChainCursor,
  type NewWithdrawalRecord,
  WithdrawalLedger,
  type WithdrawalRecord,
  type WithdrawalStatus,
  withdrawalDay,
} from './ledger/withdrawal-ledger';
export {
  type CreateOutboxSignerOptions,
  createOutboxSigner,
  type OutboxErrorEvent,
  type OutboxSignedEvent,
  type OutboxSigner,
} from './outbox-signer';
export {
  globalDailyCap,
  maxWithdrawalAmount,
  recipientAllowList,
  recipientDailyLimit,
  recipientDenyList,
} from './policy/built-in-validators';
export {
  accept,
  refuse,
  type Withdrawal,
  type WithdrawalContext,
  type WithdrawalDecision,
  type WithdrawalValidator,
} from './policy/withdrawal-validator';
export { type WithdrawalPolicyOptions, withdrawalValidators } from './policy/withdrawal-validators';
export { signRecoverable } from './sign-recoverable';
export { type SignedWithdrawal, signWithdrawal } from './sign-withdrawal';
export { type BridgeSignerKey, generateSignerKey, signerKeyFromHex } from './signer-key';
export {
  STATE_ATTESTATION_OUTBOX_KIND,
  type StateAttestationJson,
  stateAttestationOfEntry,
  stateAttestationOutboxEntry,
  toStateAttestationJson,
} from './state-attestation/state-attestation-outbox';
export {
  type CreateStateAttestationSignerOptions,
  createStateAttestationSigner,
  type StateAttestationSigner,
  signStateAttestation,
} from './state-attestation/state-attestation-signer';
export {
  loadStateAttestationHasher,
  STATE_ATTESTATION_DOMAIN_NAME,
  STATE_ATTESTATION_DOMAIN_VERSION,
  STATE_ATTESTATION_TYPES,
  type StateAttestation,
  type StateAttestationDomain,
  type StateAttestationHasher,
  stateAttestationTypedData,
} from './state-attestation/state-attestation-typed-data';
export { type MessageSignature, toMessageSignature } from './to-message-signature';
export { ODD_LENGTH_HEX_REASON, tryWithdrawalMessageId } from './try-withdrawal-message-id';
export { withdrawalMessageHash } from './withdrawal-message-hash';
export { withdrawalMessageId } from './withdrawal-message-id';
export {
  WITHDRAWAL_OUTBOX_KIND,
  type WithdrawalOutboxEntryParameters,
  withdrawalOutboxEntry,
} from './withdrawal-outbox-entry';
