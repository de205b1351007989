// `@synddb/fetchers/gcs`: the Google Cloud Storage adapter. It is its own entry point so that the
// main entry never loads @google-cloud/storage: only the users of this adapter pay for the SDK.
// Its errors (`GcsRequestError`, `HttpStatusError`, ...) are the main entry's classes.
export { createGcsFetcher, type GcsFetcherOptions } from './gcs/create-gcs-fetcher';
export { DEFAULT_GCS_PAGE_SIZE } from './limits';
