/** COSE header labels used by SyndDB (docs/protocol.md#cose-protected-header). */
export const COSE_LABEL_ALG = 1n;
export const HEADER_SEQUENCE = -65537n;
export const HEADER_TIMESTAMP = -65538n;
export const HEADER_MSG_TYPE = -65539n;
/** IANA COSE algorithm ES256K. */
export const ALG_ES256K = -47;
/** Text label of the signer key in the unprotected header. */
export const UNPROTECTED_PUBKEY_LABEL = 'pubkey';

export const PUBKEY_LENGTH = 64;
export const SIGNATURE_LENGTH = 64;
