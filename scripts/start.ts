// `pnpm start`: a local SyndDB devnet — a sequencer and its sample application generating
// traffic — and a synddb-validator replicating it, all in this process, with embedded defaults.
//
// The validator runs in bridge signer mode (local chain id 31337): it signs the sample app's
// withdrawals and serves the signatures on its signature API.
//
// Env: SYNDDB_VALIDATOR_BIND (127.0.0.1:8080), SYNDDB_SIGNATURE_BIND (127.0.0.1:8081),
// SYNDDB_DEVNET_PORT (0 = any free port), SYNDDB_DEVNET_RATE (transactions/s, 10), SYNDDB_DATA_DIR
// (.data/devnet). SYNDDB_START_SMOKE=N exits 0 once the validator
// has applied N messages (used by the test that keeps this command true).
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDevnetSequencer, createSampleApp } from '@synddb/devnet';
import { startValidator } from 'synddb-validator';

const bindAddress = process.env.SYNDDB_VALIDATOR_BIND ?? '127.0.0.1:8080';
const signatureBind = process.env.SYNDDB_SIGNATURE_BIND ?? '127.0.0.1:8081';
const devnetPort = Number(process.env.SYNDDB_DEVNET_PORT ?? 0);
const rate = Number(process.env.SYNDDB_DEVNET_RATE ?? 10);
const dataDir = resolve(process.env.SYNDDB_DATA_DIR ?? '.data/devnet');
const smoke =
  process.env.SYNDDB_START_SMOKE === undefined ? null : BigInt(process.env.SYNDDB_START_SMOKE);

// The devnet keeps its storage in memory and starts again at sequence 0: start from empty files.
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });

const sequencer = createDevnetSequencer({ batchMaxMessages: 20, flushIntervalMs: 500 });
const { url: sequencerUrl } = await sequencer.start({ host: '127.0.0.1', port: devnetPort });
const app = createSampleApp({ sequencerUrl, dbPath: join(dataDir, 'app.db') });
await app.start();
const abort = new AbortController();
const workload = app
  .runWorkload({
    transactions: Number.MAX_SAFE_INTEGER,
    seed: 1,
    snapshotEvery: 200,
    delayMs: 1000 / rate,
    signal: abort.signal,
  })
  .catch((error: unknown) => {
    if (!abort.signal.aborted) console.error('sample app failed:', error);
  });

const databasePath = join(dataDir, 'validator.db');
const validator = await startValidator({
  sequencerUrl,
  sequencerPubkey: sequencer.pubkeyHex,
  databasePath,
  bindAddress,
  syncInterval: '250ms',
  maxLag: '100',
  bridgeSigner: true,
  bridgeChainId: 31337n,
  bridgeSignatureEndpoint: signatureBind,
});
const api = validator.url;
const signatures = validator.bridge?.url ?? '';
console.log(`
SyndDB local devnet is running.
  sequencer       ${sequencerUrl}   (storage API: ${sequencerUrl}/storage/batches)
  sample app db   ${join(dataDir, 'app.db')}   (${rate} transactions/s, snapshot every 200)
  validator API   ${api}
  signature API   ${signatures}   (bridge signer ${validator.bridge?.address}, chain id 31337)
  replica         ${databasePath}

Try:
  curl ${api}/status
  curl ${api}/ready
  curl -s ${api}/metrics | grep synddb_
  curl -s ${api}/query -H 'content-type: application/json' -d '{"sql":"SELECT id, owner, balance FROM accounts LIMIT 5"}'
  sqlite3 -readonly ${databasePath} 'SELECT id, owner, balance FROM accounts LIMIT 5'
  curl ${signatures}/pending
  curl ${signatures}/signatures

Ctrl-C stops everything.
`);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) process.exit(130);
  stopping = true;
  abort.abort();
  await workload;
  await validator.stop().catch((error: unknown) => console.error(error));
  await sequencer.stop();
  app.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

if (smoke !== null) {
  const onApplied = () => {
    const status = validator.status();
    if ((status.lastSequence ?? -1n) + 1n < smoke) return;
    validator.engine.off('applied', onApplied);
    void (async () => {
      const pending = (await (await fetch(`${signatures}/pending`)).json()) as { count: number };
      console.log(
        `smoke: applied ${status.lastSequence}, state ${status.state}, signed ${pending.count} withdrawals`,
      );
      await stop(0);
    })();
  };
  validator.engine.on('applied', onApplied);
}
