import { SyndDBError } from '@synddb/protocol';

/** A devnet option is out of range (ports, thresholds, keys, paths). */
export class DevnetConfigError extends SyndDBError {
  override name = 'DevnetConfigError';
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
  constructor() {
    super('DEVNET_SEQUENCER_STOPPED', 'the devnet sequencer is stopped');
  }
}

/** A fault-injection call names a batch start the storage does not hold. */
export class UnknownBatchError extends SyndDBError {
  override name = 'UnknownBatchError';
  readonly startSequence: bigint;
  constructor(startSequence: bigint) {
    super('DEVNET_UNKNOWN_BATCH', `no batch starts at sequence ${startSequence}`);
    this.startSequence = startSequence;
  }
}

/** Writing or removing a batch file in the GCS-layout directory failed. */
export class BatchMirrorError extends SyndDBError {
  override name = 'BatchMirrorError';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('DEVNET_BATCH_MIRROR', shortMessage, options);
  }
}

/** The sequencer answered a sample-app request with a non-success status or a malformed body. */
export class SequencerResponseError extends SyndDBError {
  override name = 'SequencerResponseError';
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

/** The sample application's database is not in the state an operation needs. */
export class SampleAppError extends SyndDBError {
  override name = 'SampleAppError';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('DEVNET_SAMPLE_APP', shortMessage, options);
  }
}
