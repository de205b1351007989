import { Interface } from 'ethers';
import { BRIDGE_ABI, type KeyType } from './abi';

const bridge = new Interface([...BRIDGE_ABI]);

/** A withdrawal as `/submit-withdrawal` receives it, ready for the Bridge. */
export interface WithdrawalMessage {
  /** `0x` + 64 hex. */
  messageId: string;
  targetAddress: string;
  /** Calldata for the target, `0x` hex. */
  payload: string;
  nativeTokenAmount: bigint;
  /** The sequencer's 65-byte signature (`bridge_signature.signature`), `0x` hex. */
  sequencerSignature: string;
  /** `SequencerSignature.submittedAt` (stored by the Bridge, never checked): the sequencer timestamp. */
  submittedAt: bigint;
}

/** Calldata of `initializeAndHandleMessage` (selector 0x90fd6931). */
export function encodeInitializeAndHandle(
  message: WithdrawalMessage,
  validatorSignatures: readonly string[],
): string {
  return bridge.encodeFunctionData('initializeAndHandleMessage', [
    message.messageId,
    message.targetAddress,
    message.payload,
    { signature: message.sequencerSignature, submittedAt: message.submittedAt },
    validatorSignatures,
    message.nativeTokenAmount,
  ]);
}

/** Calldata of `signMessageWithSignature` (0x2f3f39ef). */
export function encodeSignMessage(messageId: string, signature: string): string {
  return bridge.encodeFunctionData('signMessageWithSignature', [messageId, signature]);
}

/** Calldata of `handleMessage` (0x03936b73). */
export function encodeHandleMessage(messageId: string): string {
  return bridge.encodeFunctionData('handleMessage', [messageId]);
}

/** Calldata of `registerKeyWithSignature` (0xa107a14c). */
export function encodeRegisterKeyWithSignature(parameters: {
  keyType: KeyType;
  publicValues: string;
  proofBytes: string;
  deadline: bigint;
  signature: string;
}): string {
  return bridge.encodeFunctionData('registerKeyWithSignature', [
    parameters.keyType,
    parameters.publicValues,
    parameters.proofBytes,
    parameters.deadline,
    parameters.signature,
  ]);
}

/** The next Bridge call that moves a withdrawal towards completion, or why none can be made. */
export type WithdrawalStep =
  | { kind: 'completed' }
  | { kind: 'initialize-and-handle'; signatures: string[]; signers: string[] }
  | { kind: 'sign'; signature: string; signer: string }
  | { kind: 'handle' }
  | { kind: 'wait-signatures'; have: number; threshold: number };

/**
 * Decides the next call from the chain's view and the checked signatures: a message nobody has
 * initialized gets one atomic `initializeAndHandleMessage` with every checked signature once
 * there are at least `threshold`; a message already initialized (by anyone) is never initialized
 * again: missing signatures are added one `signMessageWithSignature` at a time, then
 * `handleMessage` runs once the chain counts enough.
 */
export function nextWithdrawalStep(input: {
  status: { initialized: boolean; completed: boolean };
  threshold: number;
  /** Checked signatures (current Validator keys only), one per signer. */
  signatures: readonly { signer: string; signature: string }[];
  /** Current Validator keys whose signature the Bridge has already recorded. */
  signedOnChain: readonly string[];
}): WithdrawalStep {
  const { status, threshold, signatures } = input;
  if (status.completed) return { kind: 'completed' };
  if (!status.initialized) {
    if (signatures.length < threshold) {
      return { kind: 'wait-signatures', have: signatures.length, threshold };
    }
    return {
      kind: 'initialize-and-handle',
      signatures: signatures.map((s) => s.signature),
      signers: signatures.map((s) => s.signer),
    };
  }
  const onChain = new Set(input.signedOnChain.map((s) => s.toLowerCase()));
  if (onChain.size >= threshold) return { kind: 'handle' };
  const missing = signatures.filter((s) => !onChain.has(s.signer.toLowerCase()));
  if (onChain.size + missing.length < threshold) {
    return { kind: 'wait-signatures', have: onChain.size + missing.length, threshold };
  }
  return { kind: 'sign', signature: missing[0]!.signature, signer: missing[0]!.signer };
}
