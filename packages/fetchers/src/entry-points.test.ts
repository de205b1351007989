import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// Records every module a fresh process loads (ESM and CommonJS alike: `registerHooks` sees both),
// imports the entry given as argv[1] and prints the loaded URLs that belong to the GCS SDK.
const PROBE = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
await import(process.argv[1]);
console.log(JSON.stringify({ total: loaded.length, gcs: loaded.filter((u) => u.includes('/@google-cloud/')) }));
`;

/** Imports one source entry in a new process (sources through tsx, as the `source` condition). */
async function loadedBy(entry: string): Promise<{ total: number; gcs: string[] }> {
  const file = fileURLToPath(new URL(entry, import.meta.url));
  const { stdout } = await run(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', PROBE, file],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout) as { total: number; gcs: string[] };
}

describe('entry points', () => {
  it('the main entry never loads @google-cloud/storage; ./gcs does', async () => {
    const main = await loadedBy('./index.ts');
    expect(main.total).toBeGreaterThan(10);
    expect(main.gcs).toEqual([]);
    // The probe would see the SDK: importing the GCS entry loads it.
    const gcs = await loadedBy('./gcs.ts');
    expect(gcs.gcs.some((u) => u.includes('/@google-cloud/storage/'))).toBe(true);
  });
});
