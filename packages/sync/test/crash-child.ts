// Child process of crash.test.ts: syncs a replica from the devnet until `head`, printing what it
// committed, so the parent can kill it with SIGKILL at random moments.
import { createHttpFetcher } from '@synddb/fetchers';
import { parseSequencerPubkey } from '@synddb/verifier';
import BetterSqlite3 from 'better-sqlite3';
import { createSyncEngine } from '../src/index';

const [url, pubkey, path, headText, perTx] = process.argv.slice(2);
if (url === undefined || pubkey === undefined || path === undefined || headText === undefined) {
  throw new Error('usage: crash-child <url> <pubkey> <db> <head> [messagesPerTransaction]');
}
const head = BigInt(headText);
const db = new BetterSqlite3(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = OFF');
const engine = createSyncEngine({
  db,
  databasePath: path,
  fetcher: createHttpFetcher({ baseUrl: url, maxRetries: 2, retryBaseDelayMs: 10 }),
  sequencerPubkeys: [parseSequencerPubkey(pubkey)],
  syncIntervalMs: 10,
  gapRetryDelayMs: 50,
  maxMessagesPerTransaction: Number(perTx ?? 16),
  prefetchBatches: 2,
  // the state root is persisted with the cursor: the parent checks it survives every kill
  stateRoot: true,
});
process.stdout.write(`start ${engine.status().lastSequence ?? -1}\n`);
let finishing = false;
function finishWhenAtHead(): void {
  if (finishing || (engine.status().lastSequence ?? -1n) < head) return;
  finishing = true;
  void engine.stop().then(() => {
    db.close();
    process.stdout.write('done\n');
    process.exit(0);
  });
}
engine.on('applied', (messages) => {
  process.stdout.write(`applied ${messages.at(-1)?.sequence}\n`);
  finishWhenAtHead();
});
engine.on('caughtUp', finishWhenAtHead);
engine.on('halted', (reason) => {
  process.stdout.write(`halted ${reason.code} ${reason.message}\n`);
});
engine.start();
