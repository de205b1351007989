// Child process of gcs-faults.test.ts: downloads one batch with the GCS fetcher over the
// real @google-cloud/storage client (its automatic retries left on, the default) and prints it.
// An unhandled error (the client's ERR_STREAM_UNABLE_TO_PIPE) ends this process with a non-zero
// status, which is how the parent observes it: nothing here catches it.
import { Storage } from '@google-cloud/storage';
import { createGcsFetcher } from '../src/gcs';

const [url, bucket, name, start, end] = process.argv.slice(2);
if (url === undefined || bucket === undefined || name === undefined) {
  throw new Error('usage: gcs-download-child <url> <bucket> <object> <start> <end>');
}
const fetcher = createGcsFetcher({
  bucket,
  prefix: name.slice(0, name.lastIndexOf('/batches/')),
  storage: new Storage({ apiEndpoint: url, projectId: 'test' }),
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 2_000,
});
const blob = await fetcher.getBatch({
  startSequence: BigInt(start ?? '0'),
  endSequence: BigInt(end ?? '0'),
  path: name,
});
process.stdout.write(`ok ${blob === null ? 'null' : Buffer.from(blob).toString('hex')}\n`);
