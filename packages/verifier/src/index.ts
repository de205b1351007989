// Raised by verifySignedMessage; defined by @synddb/protocol (same class, code HEADER_MISMATCH).
export { HeaderMismatchError } from '@synddb/protocol';
export { defaultBackend } from './backend/default-backend';
export { createNativeBackend, isNativeBackendAvailable } from './backend/native-backend';
export { createNobleBackend } from './backend/noble-backend';
export type { PublicKeyVerifier, Secp256k1Backend } from './backend/types';
export type { VerifiedBatch } from './batch/verified-batch';
export type { VerifyBatchOptions } from './batch/verify-batch';
export { verifyBatch } from './batch/verify-batch';
export {
  type VerifiedStreamedBatch,
  type VerifiedStreamedMessage,
  type VerifyStreamedBatchOptions,
  verifyStreamedBatch,
} from './batch/verify-streamed-batch';
export {
  BackendUnavailableError,
  BatchSignatureError,
  InvalidPrivateKeyError,
  InvalidPublicKeyError,
  MessageSignatureError,
  NonNormalizedHeaderError,
  SignerInputError,
  SignerMismatchError,
  VerifierPoolError,
} from './errors';
export { parseSequencerPubkey } from './keys/parse-sequencer-pubkey';
export { pubkeyToAddress } from './keys/pubkey-to-address';
export type { VerifiedMessage } from './message/verified-message';
export { verifyMessage } from './message/verify-message';
export type { VerifyMessageOptions } from './message/verify-options';
export { verifySignedMessage } from './message/verify-signed-message';
export type {
  CreateVerifierPoolOptions,
  SignatureCheck,
  VerifierPool,
} from './pool/create-verifier-pool';
export { createVerifierPool } from './pool/create-verifier-pool';
export type {
  SequencerSigner,
  SignBatchParameters,
  SignMessageParameters,
} from './signer/create-sequencer-signer';
export { createSequencerSigner } from './signer/create-sequencer-signer';
