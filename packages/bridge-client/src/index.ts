export {
  BRIDGE_ABI,
  BRIDGE_ERRORS_ABI,
  ECDSA_ERRORS_ABI,
  KEY_MANAGER_ABI,
  KeyType,
  SEQUENCER_SIGNATURE_TUPLE,
  THRESHOLD_MODULE_ABI,
} from './abi';
export {
  encodeHandleMessage,
  encodeInitializeAndHandle,
  encodeRegisterKeyWithSignature,
  encodeSignMessage,
  nextWithdrawalStep,
  type WithdrawalMessage,
  type WithdrawalStep,
} from './bridge-calls';
export {
  type BridgeReader,
  type CreateBridgeReaderOptions,
  createBridgeReader,
  type MessageStatus,
  type ValidatorSet,
} from './bridge-reader';
export {
  checkValidatorSignature,
  type SignatureCheck,
  type SignatureRejection,
} from './check-validator-signature';
export {
  type CollectedSignatures,
  type CollectSignaturesOptions,
  collectValidatorSignatures,
  type ValidatorResult,
} from './collect-signatures';
export { decodeRevert, decodeRevertData, formatRevert, revertDataOf } from './decode-revert';
export {
  BridgeCallError,
  BridgeClientInputError,
  type DecodedRevert,
  FeeCapExceededError,
} from './errors';
export {
  audienceHash,
  PUBLIC_VALUES_MIN_BYTES,
  type PublicValuesFields,
  readPublicValues,
} from './register-key';
export {
  type CreateRpcProvidersOptions,
  createRpcProviders,
  type RpcProviders,
  redactUrl,
} from './rpc-providers';
export {
  type CreateSubmitterOptions,
  createTransactionSubmitter,
  type JournaledTransaction,
  type MinedReceipt,
  type SendOutcome,
  type SubmitJournal,
  type TransactionRequest,
  type TransactionSubmitter,
} from './transaction-submitter';
