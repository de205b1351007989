/**
 * The Bridge's, TeeKeyManager's and threshold module's interface as a relayer uses it, in
 * ethers' human-readable ABI, written from the documented interface (docs/compatibility.md
 * #bridge-contract, docs/protocol.md#bridge-digests). The custom errors of all three contracts and
 * OpenZeppelin's ECDSA are included so that a revert from any of them (the Bridge bubbles up its
 * callees' reverts) decodes by name.
 */

/** `SequencerSignature` as the Bridge takes it: `(bytes signature, uint256 submittedAt)`. */
export const SEQUENCER_SIGNATURE_TUPLE = 'tuple(bytes signature, uint256 submittedAt)';

export const BRIDGE_ABI = [
  `function initializeMessage(bytes32 messageId, address targetAddress, bytes payload, ${SEQUENCER_SIGNATURE_TUPLE} sequencerSignature, uint256 nativeTokenAmount)`,
  'function handleMessage(bytes32 messageId)',
  `function initializeAndHandleMessage(bytes32 messageId, address targetAddress, bytes payload, ${SEQUENCER_SIGNATURE_TUPLE} sequencerSignature, bytes[] validatorSignatures, uint256 nativeTokenAmount)`,
  'function signMessageWithSignature(bytes32 messageId, bytes signature)',
  'function getValidatorSignatureCount(bytes32 messageId, address[] validators) view returns (uint256)',
  'function validatorSignatures(bytes32 messageId, address validator) view returns (bool)',
  'function isMessageInitialized(bytes32 messageId) view returns (bool)',
  'function isMessageCompleted(bytes32 messageId) view returns (bool)',
  'function isMessageRejected(bytes32 messageId) view returns (bool)',
  'function isMessageHandled(bytes32 messageId) view returns (bool)',
  'function messageInitializers(address account) view returns (bool)',
  'function teeKeyManager() view returns (address)',
  'function getPreModules() view returns (address[])',
  'function registerKeyWithSignature(uint8 keyType, bytes publicValues, bytes proofBytes, uint256 deadline, bytes signature)',
  'event MessageInitialized(bytes32 indexed messageId, bytes payload)',
  'event MessageHandled(bytes32 indexed messageId, bool success)',
  'event MessageSigned(bytes32 indexed messageId, address indexed validator, address indexed submittedBy)',
  'error NotMessageInitializer()',
  'error MessageAlreadyInitialized(bytes32 messageId)',
  'error MessageNotInitialized(bytes32 messageId)',
  'error InvalidStage(bytes32 messageId, uint8 stage)',
  'error ModuleCheckFailed(address module, uint8 stage)',
  'error InvalidSequencerSignature(address signer)',
  'error MessageExecutionFailed(bytes32 messageId)',
  'error InsufficientBalance(uint256 available, uint256 needed)',
  'error ArrayLengthMismatch()',
] as const;

export const KEY_MANAGER_ABI = [
  'function isKeyValid(uint8 keyType, address key) view returns (bool)',
  'function getKeys(uint8 keyType) view returns (address[])',
  'event KeyAdded(uint8 indexed keyType, address indexed key, uint256 expiresAt)',
  'error InvalidPublicKey(address key)',
  'error KeyExpired(address key)',
  'error KeyAlreadyExists(address key)',
  'error SignatureExpired()',
  'error InvalidSignature()',
  'error InvalidKeyType(uint8 keyType)',
  'error KeyPending(address key)',
] as const;

export const THRESHOLD_MODULE_ABI = [
  'function signatureThreshold() view returns (uint256)',
  'error ThresholdZero()',
] as const;

/** OpenZeppelin v5 ECDSA's errors (the Bridge recovers with it). */
export const ECDSA_ERRORS_ABI = [
  'error ECDSAInvalidSignature()',
  'error ECDSAInvalidSignatureLength(uint256 length)',
  'error ECDSAInvalidSignatureS(bytes32 s)',
] as const;

/** Every error a Bridge call can revert with, for decoding. */
export const BRIDGE_ERRORS_ABI = [
  ...BRIDGE_ABI.filter((f) => f.startsWith('error ')),
  ...KEY_MANAGER_ABI.filter((f) => f.startsWith('error ')),
  ...THRESHOLD_MODULE_ABI.filter((f) => f.startsWith('error ')),
  ...ECDSA_ERRORS_ABI,
] as const;

/** `TeeKeyManager` key types. */
export const KeyType = { Sequencer: 0, Validator: 1 } as const;
export type KeyType = (typeof KeyType)[keyof typeof KeyType];
