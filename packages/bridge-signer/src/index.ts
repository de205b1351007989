export { addressFromPublicKey, checksumAddress, recoverSignerAddress } from './address';
export { eip191Digest, withdrawalDigest } from './eip191-digest';
export {
  BridgeSignatureError,
  BridgeSignerInputError,
  BridgeSignerKeyError,
  OutboxEntryError,
} from './errors';
export {
  type LoadOrCreateSignerKeyOptions,
  type LoadOrCreateSignerKeyReturnType,
  loadOrCreateSignerKey,
} from './key-file';
export {
  type CreateOutboxSignerOptions,
  createOutboxSigner,
  type OutboxErrorEvent,
  type OutboxSignedEvent,
  type OutboxSigner,
} from './outbox-signer';
export { signRecoverable } from './sign-recoverable';
export { type SignedWithdrawal, signWithdrawal } from './sign-withdrawal';
export { type BridgeSignerKey, generateSignerKey, signerKeyFromHex } from './signer-key';
export { type MessageSignature, toMessageSignature } from './to-message-signature';
export { withdrawalMessageHash } from './withdrawal-message-hash';
export { withdrawalMessageId } from './withdrawal-message-id';
export {
  WITHDRAWAL_OUTBOX_KIND,
  type WithdrawalOutboxEntryParameters,
  withdrawalOutboxEntry,
} from './withdrawal-outbox-entry';
