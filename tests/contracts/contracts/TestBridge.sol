// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {TestTeeKeyManager} from "./TestTeeKeyManager.sol";

/// The sequencer's signature over a message, as the Bridge takes it.
struct SequencerSignature {
    bytes signature;
    uint256 submittedAt;
}

/// A pre- or post-execution check run by the Bridge for every message.
interface IModuleCheck {
    function check(bytes32 messageId, uint8 stage, bytes calldata payload, SequencerSignature calldata signature)
        external
        view
        returns (bool);
}

/// A Bridge for tests, written from the documented interface of SyndDB's Bridge: messages are
/// initialized by an allowed initializer with a sequencer signature over (id, target, payload,
/// amount), signed by registered validator keys (EIP-191 over the raw id), checked by pre-modules
/// (the validator-signature threshold) and executed once. Selectors, events and custom errors
/// match the documented ones.
contract TestBridge {
    uint8 public constant SEQUENCER_KEY = 0;
    uint8 public constant VALIDATOR_KEY = 1;

    // ProcessingStage
    uint8 private constant NOT_STARTED = 0;
    uint8 private constant PRE_EXECUTION = 1;
    uint8 private constant EXECUTING = 2;
    uint8 private constant POST_EXECUTION = 3;
    uint8 private constant COMPLETED = 4;
    uint8 private constant REJECTED = 5;

    error NotMessageInitializer();
    error NotOwner();
    error MessageAlreadyInitialized(bytes32 messageId);
    error MessageNotInitialized(bytes32 messageId);
    error InvalidStage(bytes32 messageId, uint8 stage);
    error ModuleCheckFailed(address module, uint8 stage);
    error InvalidSequencerSignature(address signer);
    error MessageExecutionFailed(bytes32 messageId);
    error InsufficientBalance(uint256 available, uint256 needed);

    event MessageInitialized(bytes32 indexed messageId, bytes payload);
    event MessageHandled(bytes32 indexed messageId, bool success);
    event MessageSigned(bytes32 indexed messageId, address indexed validator, address indexed submittedBy);
    event MessageInitializerUpdated(address indexed initializer, bool allowed);
    event PreModuleAdded(address indexed module);
    event PreModuleRemoved(address indexed module);

    struct Message {
        uint8 stage;
        address target;
        uint256 amount;
        bytes payload;
        SequencerSignature sequencerSignature;
    }

    address public owner;
    TestTeeKeyManager public teeKeyManager;
    mapping(address => bool) public messageInitializers;
    mapping(bytes32 => mapping(address => bool)) public validatorSignatures;
    mapping(bytes32 => Message) private messages;
    address[] private preModules;
    address[] private postModules;

    constructor(TestTeeKeyManager keyManager) {
        owner = msg.sender;
        teeKeyManager = keyManager;
    }

    receive() external payable {}

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    // ---- administration ---------------------------------------------------------------------

    function setMessageInitializer(address initializer, bool allowed) external onlyOwner {
        messageInitializers[initializer] = allowed;
        emit MessageInitializerUpdated(initializer, allowed);
    }

    function addPreModule(address module) external onlyOwner {
        preModules.push(module);
        emit PreModuleAdded(module);
    }

    function removePreModule(address module) external onlyOwner {
        for (uint256 i = 0; i < preModules.length; i++) {
            if (preModules[i] == module) {
                preModules[i] = preModules[preModules.length - 1];
                preModules.pop();
                emit PreModuleRemoved(module);
                return;
            }
        }
    }

    function addPostModule(address module) external onlyOwner {
        postModules.push(module);
    }

    function getPreModules() external view returns (address[] memory) {
        return preModules;
    }

    function getPostModules() external view returns (address[] memory) {
        return postModules;
    }

    // ---- keys (proxied to the key manager) ---------------------------------------------------

    function registerKey(uint8 keyType, bytes calldata publicValues, bytes calldata proofBytes) external {
        teeKeyManager.addKey(keyType, publicValues, proofBytes);
    }

    function registerKeyWithSignature(
        uint8 keyType,
        bytes calldata publicValues,
        bytes calldata proofBytes,
        uint256 deadline,
        bytes calldata signature
    ) external {
        teeKeyManager.addKeyWithSignature(keyType, publicValues, proofBytes, deadline, signature);
    }

    // ---- messages ----------------------------------------------------------------------------

    function initializeMessage(
        bytes32 messageId,
        address targetAddress,
        bytes calldata payload,
        SequencerSignature calldata sequencerSignature,
        uint256 nativeTokenAmount
    ) public {
        if (!messageInitializers[msg.sender]) revert NotMessageInitializer();
        Message storage m = messages[messageId];
        if (m.stage != NOT_STARTED) revert MessageAlreadyInitialized(messageId);
        bytes32 contentHash = keccak256(abi.encodePacked(messageId, targetAddress, keccak256(payload), nativeTokenAmount));
        address signer = teeKeyManager.recover(ethSignedMessageHash(contentHash), sequencerSignature.signature);
        // reverts InvalidPublicKey / KeyExpired for a key that is not a current sequencer key
        if (!teeKeyManager.isKeyValid(SEQUENCER_KEY, signer)) revert InvalidSequencerSignature(signer);
        m.stage = PRE_EXECUTION;
        m.target = targetAddress;
        m.amount = nativeTokenAmount;
        m.payload = payload;
        m.sequencerSignature = sequencerSignature;
        emit MessageInitialized(messageId, payload);
    }

    function signMessageWithSignature(bytes32 messageId, bytes calldata signature) public {
        address validator = teeKeyManager.recover(ethSignedMessageHash(messageId), signature);
        _sign(messageId, validator);
    }

    function signMessage(bytes32 messageId) external {
        _sign(messageId, msg.sender);
    }

    function handleMessage(bytes32 messageId) public {
        Message storage m = messages[messageId];
        if (m.stage == NOT_STARTED) revert MessageNotInitialized(messageId);
        if (m.stage != PRE_EXECUTION) revert InvalidStage(messageId, m.stage);
        for (uint256 i = 0; i < preModules.length; i++) {
            if (!IModuleCheck(preModules[i]).check(messageId, PRE_EXECUTION, m.payload, m.sequencerSignature)) {
                revert ModuleCheckFailed(preModules[i], PRE_EXECUTION);
            }
        }
        m.stage = EXECUTING;
        if (address(this).balance < m.amount) revert InsufficientBalance(address(this).balance, m.amount);
        (bool ok,) = m.target.call{value: m.amount}(m.payload);
        if (!ok) revert MessageExecutionFailed(messageId);
        m.stage = POST_EXECUTION;
        for (uint256 i = 0; i < postModules.length; i++) {
            if (!IModuleCheck(postModules[i]).check(messageId, POST_EXECUTION, m.payload, m.sequencerSignature)) {
                revert ModuleCheckFailed(postModules[i], POST_EXECUTION);
            }
        }
        m.stage = COMPLETED;
        emit MessageHandled(messageId, true);
    }

    function initializeAndHandleMessage(
        bytes32 messageId,
        address targetAddress,
        bytes calldata payload,
        SequencerSignature calldata sequencerSignature,
        bytes[] calldata validatorSignatures_,
        uint256 nativeTokenAmount
    ) external {
        initializeMessage(messageId, targetAddress, payload, sequencerSignature, nativeTokenAmount);
        for (uint256 i = 0; i < validatorSignatures_.length; i++) {
            signMessageWithSignature(messageId, validatorSignatures_[i]);
        }
        handleMessage(messageId);
    }

    function getValidatorSignatureCount(bytes32 messageId, address[] calldata validators)
        external
        view
        returns (uint256 count)
    {
        for (uint256 i = 0; i < validators.length; i++) {
            if (validatorSignatures[messageId][validators[i]]) count++;
        }
    }

    function messageStage(bytes32 messageId) external view returns (uint8) {
        return messages[messageId].stage;
    }

    function isMessageInitialized(bytes32 messageId) external view returns (bool) {
        return messages[messageId].stage != NOT_STARTED;
    }

    function isMessageCompleted(bytes32 messageId) external view returns (bool) {
        return messages[messageId].stage == COMPLETED;
    }

    function isMessageRejected(bytes32 messageId) external view returns (bool) {
        return messages[messageId].stage == REJECTED;
    }

    function isMessageHandled(bytes32 messageId) external view returns (bool) {
        uint8 stage = messages[messageId].stage;
        return stage == COMPLETED || stage == REJECTED;
    }

    function _sign(bytes32 messageId, address validator) private {
        // reverts InvalidPublicKey / KeyExpired for a key that is not a current validator key
        teeKeyManager.isKeyValid(VALIDATOR_KEY, validator);
        validatorSignatures[messageId][validator] = true;
        emit MessageSigned(messageId, validator, msg.sender);
    }

    function ethSignedMessageHash(bytes32 hash) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
    }
}

/// The pre-module that holds a message until enough current validator keys have signed it.
contract ValidatorSignatureThresholdModule is IModuleCheck {
    error ThresholdZero();
    error NotOwner();

    TestBridge public immutable BRIDGE;
    TestTeeKeyManager public immutable TEE_KEY_MANAGER;
    address public owner;
    uint256 public signatureThreshold;

    constructor(TestBridge bridge, TestTeeKeyManager keyManager, uint256 threshold) {
        if (threshold == 0) revert ThresholdZero();
        BRIDGE = bridge;
        TEE_KEY_MANAGER = keyManager;
        owner = msg.sender;
        signatureThreshold = threshold;
    }

    function setThreshold(uint256 threshold) external {
        if (msg.sender != owner) revert NotOwner();
        if (threshold == 0) revert ThresholdZero();
        signatureThreshold = threshold;
    }

    function check(bytes32 messageId, uint8 stage, bytes calldata, SequencerSignature calldata)
        external
        view
        returns (bool)
    {
        if (stage != 1) return true;
        address[] memory validators = TEE_KEY_MANAGER.getKeys(1);
        if (validators.length == 0) return false;
        return BRIDGE.getValidatorSignatureCount(messageId, validators) >= signatureThreshold;
    }
}
