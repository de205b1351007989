import { SyndDBError } from '@synddb/protocol';

/** A devnet option is out of range (ports, thresholds, keys, paths). */
export class DevnetConfigError extends SyndDBError {
  override name = 'DevnetConfigError';
  declare readonly code: 'DEVNET_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, details?: string) {
    super('DEVNET_CONFIG', shortMessage, { details });
  }
}

/**
 * A client request the sequencer refuses: body too large or not CBOR, invalid withdrawal fields.
 * `status` is the HTTP status of the answer; `responseFormat` says whether the reference answers
 * with plain text (axum body rejections) or JSON `{error}` (handler validation).
 */
export class IngestRequestError extends SyndDBError {
  override name = 'IngestRequestError';
  declare readonly code: 'DEVNET_INVALID_REQUEST';
  override readonly kind = 'input';
  readonly status: 400 | 415;
  readonly responseFormat: 'text' | 'json';
  constructor(
    status: 400 | 415,
    shortMessage: string,
    options: { responseFormat?: 'text' | 'json'; cause?: unknown } = {},
  ) {
    super('DEVNET_INVALID_REQUEST', shortMessage, { cause: options.cause });
    this.status = status;
    this.responseFormat = options.responseFormat ?? 'json';
  }
}

/** The sequencer was stopped; it no longer sequences or publishes. */
export class SequencerStoppedError extends SyndDBError {
  override name = 'SequencerStoppedError';
  declare readonly code: 'DEVNET_SEQUENCER_STOPPED';
  override readonly kind = 'aborted';
  constructor() {
    super('DEVNET_SEQUENCER_STOPPED', 'the devnet sequencer is stopped');
  }
}

/** A fault-injection call names a batch start the storage does not hold. */
export class UnknownBatchError extends SyndDBError {
  override name = 'UnknownBatchError';
  declare readonly code: 'DEVNET_UNKNOWN_BATCH';
  override readonly kind = 'input';
  readonly startSequence: bigint;
  constructor(startSequence: bigint) {
    super('DEVNET_UNKNOWN_BATCH', `no batch starts at sequence ${startSequence}`);
    this.startSequence = startSequence;
  }
}

/** Writing or removing a batch file in the GCS-layout directory failed. */
export class BatchMirrorError extends SyndDBError {
  override name = 'BatchMirrorError';
  declare readonly code: 'DEVNET_BATCH_MIRROR';
  override readonly kind = 'storage';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('DEVNET_BATCH_MIRROR', shortMessage, options);
  }
}

/** The sequencer answered a sample-app request with a non-success status or a malformed body. */
export class SequencerResponseError extends SyndDBError {
  override name = 'SequencerResponseError';
  declare readonly code: 'DEVNET_SEQUENCER_RESPONSE';
  override readonly kind = 'storage';
  readonly status: number;
  readonly body: string;
  constructor(route: string, status: number, body: string) {
    super('DEVNET_SEQUENCER_RESPONSE', `${route} answered HTTP ${status}`, {
      details: body.length > 500 ? `${body.slice(0, 500)}…` : body,
    });
    this.status = status;
    this.body = body;
  }
}

/** An operation the sample application refuses (unknown account, insufficient funds, a bad amount). */
export class SampleAppError extends SyndDBError {
  override name = 'SampleAppError';
  declare readonly code: 'DEVNET_SAMPLE_APP';
  override readonly kind = 'input';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('DEVNET_SAMPLE_APP', shortMessage, options);
  }
}
