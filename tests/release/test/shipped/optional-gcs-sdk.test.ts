import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The Google Cloud Storage SDK is loaded only by those who use GCS: the built main entry of
 * @synddb/fetchers (ESM and CommonJS) does not load it, `@synddb/fetchers/gcs` does, and the
 * built validator loads it only when a bucket is configured.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const run = promisify(execFile);
const PUBKEY =
  '8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5';

// Records every module the process loads (`registerHooks` sees ESM and CommonJS), runs `body`
// and prints the loaded URLs of the GCS SDK.
const probe = (body: string) => `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
${body}
console.log(JSON.stringify({ total: loaded.length, gcs: loaded.filter((u) => u.includes('/@google-cloud/')) }));
`;

/** Runs the probe in a fresh Node process (no `source` condition: the built files). */
async function loaded(body: string): Promise<{ total: number; gcs: string[] }> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe(body)], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(stdout) as { total: number; gcs: string[] };
}

const fetchersDist = (file: string) => join(root, 'packages/fetchers/dist', file);
const importOf = (file: string) => `await import(${JSON.stringify(pathToFileURL(file).href)});`;
const requireOf = (file: string) =>
  `(await import('node:module')).createRequire(import.meta.url)(${JSON.stringify(file)});`;

const validatorStorage = (config: Record<string, unknown>) => `
const v = await import(${JSON.stringify(pathToFileURL(join(root, 'apps/validator/dist/index.js')).href)});
const logger = v.createLogger({ json: true, level: 'error', write: () => {} });
const storage = await v.createStorage(v.resolveValidatorConfig(${JSON.stringify({ sequencerPubkey: PUBKEY, ...config })}), logger);
if (typeof storage.fetcher.listBatches !== 'function') throw new Error('no fetcher');
`;

describe('the GCS SDK is optional', () => {
  it('the main entry of @synddb/fetchers does not load it (ESM and CommonJS)', async () => {
    for (const body of [importOf(fetchersDist('index.js')), requireOf(fetchersDist('index.cjs'))]) {
      const result = await loaded(body);
      expect(result.total, body).toBeGreaterThan(5);
      expect(result.gcs, body).toEqual([]);
    }
  });

  it('@synddb/fetchers/gcs loads it (the probe sees it)', async () => {
    for (const body of [importOf(fetchersDist('gcs.js')), requireOf(fetchersDist('gcs.cjs'))]) {
      const result = await loaded(body);
      expect(
        result.gcs.some((u) => u.includes('/@google-cloud/storage/')),
        body,
      ).toBe(true);
    }
  });

  it('the validator loads it only when GCS is the configured store', async () => {
    const http = await loaded(validatorStorage({ sequencerUrl: 'http://127.0.0.1:9' }));
    expect(http.gcs).toEqual([]);
    const fs = await loaded(validatorStorage({ storageDir: '/tmp/synddb-no-such-dir' }));
    expect(fs.gcs).toEqual([]);
    const gcs = await loaded(
      validatorStorage({ gcsBucket: 'b', gcsStorageEmulatorHost: '127.0.0.1:9' }),
    );
    expect(gcs.gcs.some((u) => u.includes('/@google-cloud/storage/'))).toBe(true);
  });
});
