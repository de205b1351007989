import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../cleanup/on-cleanup';
import { tempDir } from '../cleanup/temp-dir';
import { type GcsTestServerOptions, startGcsTestServer } from './start-gcs-test-server';

const BUCKET = 'synddb-test';

async function gcsServer(options: GcsTestServerOptions = {}) {
  const server = await startGcsTestServer(options);
  onCleanup(() => server.close());
  return server;
}

/** The real client, as a sequencer or an operator's tooling uses it against the server. */
function clientFor(server: { url: string }, bucket = BUCKET) {
  return new Storage({ apiEndpoint: server.url, projectId: 'test' }).bucket(bucket);
}

describe('GCS test server with the real client', () => {
  it('accepts resumable (single request and chunked) and multipart uploads, and serves them back', async () => {
    const server = await gcsServer();
    const bucket = clientFor(server);
    const small = Buffer.from('a small object');
    const large = Buffer.alloc(600 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) & 0xff;
    await bucket.file('a/single').save(small); // resumable, `bytes 0-*/*`
    await bucket.file('a/multipart').save(small, { resumable: false });
    await bucket.file('a/chunked').save(large, { resumable: true, chunkSize: 256 * 1024 }); // 3 chunks

    const uploads = server.requests().filter((r) => r.path.startsWith('/upload/'));
    expect(uploads.filter((r) => r.query.uploadType === 'multipart')).toHaveLength(1);
    expect(uploads.filter((r) => r.method === 'PUT').length).toBeGreaterThanOrEqual(4);
    expect(await server.objects()).toEqual([
      { bucket: BUCKET, name: 'a/chunked', size: large.length },
      { bucket: BUCKET, name: 'a/multipart', size: small.length },
      { bucket: BUCKET, name: 'a/single', size: small.length },
    ]);
    // The client checks the server's crc32c and md5 (x-goog-hash) on every download.
    expect((await bucket.file('a/single').download())[0].equals(small)).toBe(true);
    expect((await bucket.file('a/multipart').download())[0].equals(small)).toBe(true);
    expect((await bucket.file('a/chunked').download())[0].equals(large)).toBe(true);
  });

  it('lists in name order, by prefix and delimiter, page by page', async () => {
    const server = await gcsServer();
    for (const name of ['p/b', 'p/a', 'p/sub/c', 'q/d', 'p/c'])
      await server.putObject(BUCKET, name, new Uint8Array([1]));
    const bucket = clientFor(server);
    const [files, , response] = await bucket.getFiles({
      prefix: 'p/',
      delimiter: '/',
      autoPaginate: false,
      maxResults: 2,
    });
    expect(files.map((f) => f.name)).toEqual(['p/a', 'p/b']);
    const [rest, , restResponse] = await bucket.getFiles({
      prefix: 'p/',
      delimiter: '/',
      autoPaginate: false,
      pageToken: (response as { nextPageToken: string }).nextPageToken,
    });
    expect(rest.map((f) => f.name)).toEqual(['p/c']);
    expect((restResponse as { prefixes: string[] }).prefixes).toEqual(['p/sub/']);
    const [all] = await bucket.getFiles({ prefix: 'p/' });
    expect(all.map((f) => f.name)).toEqual(['p/a', 'p/b', 'p/c', 'p/sub/c']);
  });

  it('serves ranges, metadata and deletes', async () => {
    const server = await gcsServer();
    const bucket = clientFor(server);
    await bucket.file('a.bin').save(Buffer.from('0123456789'));
    const [part] = await bucket.file('a.bin').download({ start: 2, end: 5 });
    expect(part.toString()).toBe('2345');
    const [metadata] = await bucket.file('a.bin').getMetadata();
    expect(metadata.size).toBe('10');
    await bucket.file('a.bin').delete();
    expect(await server.objects()).toEqual([]);
    await expect(bucket.file('a.bin').delete()).rejects.toMatchObject({ code: 404 });
  });

  it('rejects uploads over maxUploadBytes', async () => {
    const server = await gcsServer({ maxUploadBytes: 100 });
    await expect(
      clientFor(server).file('x').save(Buffer.alloc(200), { resumable: false }),
    ).rejects.toMatchObject({ code: 413 });
    expect(await server.objects()).toEqual([]);
  });

  it('serves a directory written with the GCS layout and stores uploads as files', async () => {
    const dir = tempDir('synddb-gcs-dir-');
    mkdirSync(join(dir, 'seq', 'batches'), { recursive: true });
    writeFileSync(join(dir, 'seq', 'batches', 'one'), 'written by the devnet');
    const server = await gcsServer({ backing: { directory: dir, bucket: BUCKET } });
    const bucket = clientFor(server);
    expect((await bucket.file('seq/batches/one').download())[0].toString()).toBe(
      'written by the devnet',
    );
    await bucket.file('seq/batches/two').save(Buffer.from([1, 2, 3]));
    expect(readFileSync(join(dir, 'seq', 'batches', 'two'))).toEqual(Buffer.from([1, 2, 3]));
    // No temp files left behind, and only the served bucket exists.
    expect(readdirSync(join(dir, 'seq', 'batches')).sort()).toEqual(['one', 'two']);
    expect((await clientFor(server, 'other').getFiles())[0]).toEqual([]);
  });

  it('answers unknown routes and bad names with GCS-shaped errors', async () => {
    const server = await gcsServer();
    const unknown = await fetch(`${server.url}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 404 } });
    const badName = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/%E0%A4%A`);
    expect(badName.status).toBe(400);
  });

  it('never serves or writes files outside a directory backing', async () => {
    const root = tempDir('synddb-gcs-root-');
    writeFileSync(join(root, 'secret'), 'do not serve');
    const server = await gcsServer({
      backing: { directory: join(root, 'bucket'), bucket: BUCKET },
    });
    const outside = encodeURIComponent('../secret');
    const read = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/${outside}?alt=media`);
    expect(read.status).toBe(404);
    const upload = await fetch(
      `${server.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${outside}`,
      { method: 'POST', body: 'overwrite' },
    );
    expect(upload.status).toBe(400);
    expect(readFileSync(join(root, 'secret'), 'utf8')).toBe('do not serve');
  });

  it('injects faults by operation and counts them', async () => {
    const server = await gcsServer({ log: () => undefined });
    await server.putObject(BUCKET, 'x', new Uint8Array([7]));
    server.faults.set([{ on: 'download', fault: { kind: 'status', status: 503 }, times: 1 }]);
    const failed = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/x?alt=media`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: 503 } });
    const ok = await fetch(`${server.url}/download/storage/v1/b/${BUCKET}/o/x`);
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(new Uint8Array([7]));
    expect(server.faults.count({ operation: 'download' })).toBe(1);
    expect(server.requests().map((r) => r.operation)).toEqual(['download', 'download']);
  });
});
