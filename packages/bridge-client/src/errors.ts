import { SyndDBError } from '@synddb/protocol';

/**
 * A Bridge, key-manager or RPC call failed. `revert` is the decoded custom error when the chain
 * reverted; `permanent` says whether retrying the same call can succeed (a missing validator
 * signature can arrive, a malformed sequencer signature never becomes valid).
 */
export class BridgeCallError extends SyndDBError {
  override name = 'BridgeCallError';
  declare readonly code: 'BRIDGE_CALL';
  readonly revert: DecodedRevert | null;
  readonly permanent: boolean;
  constructor(
    shortMessage: string,
    options: {
      revert?: DecodedRevert | null;
      permanent: boolean;
      cause?: unknown;
      details?: string | undefined;
    },
  ) {
    super('BRIDGE_CALL', shortMessage, {
      kind: options.permanent ? 'verification' : 'unavailable',
      cause: options.cause,
      details: options.details,
    });
    this.revert = options.revert ?? null;
    this.permanent = options.permanent;
  }
}

/** The configured maximum fee per gas is below what the network asks: the send waits. */
export class FeeCapExceededError extends SyndDBError {
  override name = 'FeeCapExceededError';
  declare readonly code: 'FEE_CAP_EXCEEDED';
  override readonly kind = 'unavailable';
  readonly requiredMaxFeePerGas: bigint;
  readonly feeCap: bigint;
  constructor(required: bigint, cap: bigint) {
    super('FEE_CAP_EXCEEDED', 'The network fee is above the configured cap', {
      details: `needs maxFeePerGas ${required} wei, cap ${cap} wei`,
    });
    this.requiredMaxFeePerGas = required;
    this.feeCap = cap;
  }
}

/** An invalid option or input to the client (an address, a URL, a key). */
export class BridgeClientInputError extends SyndDBError {
  override name = 'BridgeClientInputError';
  declare readonly code: 'BRIDGE_CLIENT_INPUT';
  override readonly kind = 'input';
  constructor(shortMessage: string, details?: string) {
    super('BRIDGE_CLIENT_INPUT', shortMessage, { details });
  }
}

/** A custom error decoded from revert data. */
export interface DecodedRevert {
  /** Error name, e.g. `ModuleCheckFailed`; `Error` for `require` strings, `Panic` for panics. */
  name: string;
  /** Decoded arguments as JSON-safe text (bigints and addresses as strings). */
  args: string[];
  /** The 4-byte selector. */
  selector: string;
  /** Whether retrying the same call cannot succeed. */
  permanent: boolean;
}
