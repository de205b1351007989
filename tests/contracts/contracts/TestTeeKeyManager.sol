// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// A TEE key registry for tests, written from the documented interface of SyndDB's
/// TeeKeyManager: keys by type (0 sequencer, 1 validator), `isKeyValid` that reverts for unknown
/// or expired keys, `getKeys`, registration with an attestation (a mock: the first word of
/// `publicValues` is the key) directly or through an EIP-712 `AddKey` signature of the key.
contract TestTeeKeyManager {
    error InvalidPublicKey(address key);
    error KeyExpired(address key);
    error KeyAlreadyExists(address key);
    error SignatureExpired();
    error InvalidSignature();
    error NotBridgeOrOwner();
    error InvalidKeyType(uint8 keyType);

    event KeyAdded(uint8 indexed keyType, address indexed key, uint256 expiresAt);
    event KeyRemoved(uint8 indexed keyType, address indexed key);

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant ADD_KEY_TYPEHASH = keccak256("AddKey(bytes32 attestationHash,uint256 deadline)");

    address public owner;
    address public bridge;
    mapping(uint8 => address[]) private keysByType;
    mapping(uint8 => mapping(address => uint256)) private expiry; // 0: absent; max: no expiry

    constructor() {
        owner = msg.sender;
    }

    modifier onlyBridgeOrOwner() {
        if (msg.sender != bridge && msg.sender != owner) revert NotBridgeOrOwner();
        _;
    }

    function setBridge(address newBridge) external {
        if (msg.sender != owner) revert NotBridgeOrOwner();
        bridge = newBridge;
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("TeeKeyManager"), keccak256("1"), block.chainid, address(this))
        );
    }

    function isKeyValid(uint8 keyType, address key) external view returns (bool) {
        uint256 until = expiry[keyType][key];
        if (until == 0) revert InvalidPublicKey(key);
        if (until != type(uint256).max && block.timestamp > until) revert KeyExpired(key);
        return true;
    }

    function getKeys(uint8 keyType) external view returns (address[] memory) {
        return keysByType[keyType];
    }

    /// The mock attestation: the key is the first word of `publicValues`.
    function attestedKey(bytes calldata publicValues) public pure returns (address) {
        return abi.decode(publicValues[:32], (address));
    }

    function addKey(uint8 keyType, bytes calldata publicValues, bytes calldata) external onlyBridgeOrOwner {
        _add(keyType, attestedKey(publicValues));
    }

    function addKeyWithSignature(
        uint8 keyType,
        bytes calldata publicValues,
        bytes calldata proofBytes,
        uint256 deadline,
        bytes calldata signature
    ) external onlyBridgeOrOwner {
        if (block.timestamp > deadline) revert SignatureExpired();
        address key = attestedKey(publicValues);
        bytes32 attestationHash = keccak256(abi.encodePacked(publicValues, proofBytes));
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901", domainSeparator(), keccak256(abi.encode(ADD_KEY_TYPEHASH, attestationHash, deadline))
            )
        );
        if (recover(digest, signature) != key) revert InvalidSignature();
        _add(keyType, key);
    }

    function removeKey(uint8 keyType, address key) external onlyBridgeOrOwner {
        if (expiry[keyType][key] == 0) revert InvalidPublicKey(key);
        delete expiry[keyType][key];
        address[] storage list = keysByType[keyType];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == key) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        emit KeyRemoved(keyType, key);
    }

    function setKeyExpiration(uint8 keyType, address key, uint256 expiresAt) external onlyBridgeOrOwner {
        if (expiry[keyType][key] == 0) revert InvalidPublicKey(key);
        expiry[keyType][key] = expiresAt;
    }

    function _add(uint8 keyType, address key) private {
        if (keyType > 1) revert InvalidKeyType(keyType);
        if (key == address(0)) revert InvalidPublicKey(key);
        if (expiry[keyType][key] != 0) revert KeyAlreadyExists(key);
        expiry[keyType][key] = type(uint256).max;
        keysByType[keyType].push(key);
        emit KeyAdded(keyType, key, 0);
    }

    /// ECDSA recovery with the rules OpenZeppelin's ECDSA.recover enforces: 65 bytes, v 27/28, low s.
    function recover(bytes32 digest, bytes memory signature) public pure returns (address) {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) revert InvalidSignature();
        if (v != 27 && v != 28) revert InvalidSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        return signer;
    }
}
