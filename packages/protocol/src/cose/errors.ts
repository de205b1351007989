import { SyndDBError } from '../errors';

/** The COSE_Sign1 array or one of its headers does not have the required shape. */
export class CoseStructureError extends SyndDBError {
  override name = 'CoseStructureError';
  declare readonly code: 'COSE_STRUCTURE';
  override readonly kind = 'decode';
  readonly offset: number;
  constructor(shortMessage: string, offset: number, cause?: unknown) {
    super('COSE_STRUCTURE', shortMessage, { details: `offset ${offset}`, cause });
    this.offset = offset;
  }
}

/** The protected header's alg is not ES256K (-47). */
export class UnsupportedAlgorithmError extends SyndDBError {
  override name = 'UnsupportedAlgorithmError';
  declare readonly code: 'COSE_UNSUPPORTED_ALG';
  override readonly kind = 'decode';
  readonly alg: unknown;
  constructor(alg: unknown) {
    super(
      'COSE_UNSUPPORTED_ALG',
      `unsupported COSE algorithm ${String(alg)}, expected -47 (ES256K)`,
    );
    this.alg = alg;
  }
}
