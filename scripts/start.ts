// `npm start` (through scripts/toolchain.mjs, after `pnpm build`): a local SyndDB devnet and the
// built validator, each its own process, as an operator runs them:
//   synddb-devnet --app ...      a sequencer and its sample application writing ~10 transactions/s
//   synddb-validator ...         replicating it, in bridge signer mode (local chain id 31337)
//
// Env: SYNDDB_VALIDATOR_BIND (127.0.0.1:8080), SYNDDB_SIGNATURE_BIND (127.0.0.1:8081),
// SYNDDB_DEVNET_PORT (8433; 0 = any free port), SYNDDB_DEVNET_RATE (transactions/s, 10),
// SYNDDB_DATA_DIR (.data/devnet). SYNDDB_START_SMOKE=N stops everything and exits 0 once the
// validator has applied N messages and signed a withdrawal (the test that keeps this true).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const env = process.env;
const validatorBind = env.SYNDDB_VALIDATOR_BIND ?? '127.0.0.1:8080';
const signatureBind = env.SYNDDB_SIGNATURE_BIND ?? '127.0.0.1:8081';
const devnetPort = env.SYNDDB_DEVNET_PORT ?? '8433';
const rate = env.SYNDDB_DEVNET_RATE ?? '10';
const dataDir = resolve(env.SYNDDB_DATA_DIR ?? join(root, '.data/devnet'));
const smoke = env.SYNDDB_START_SMOKE === undefined ? null : BigInt(env.SYNDDB_START_SMOKE);

const devnetBin = join(root, 'apps/devnet/dist/cli.js');
const validatorBin = join(root, 'apps/validator/dist/cli.js');

interface Started {
  child: ChildProcess;
  /** Resolves with the first match of each pattern on the process's output. */
  found: Promise<string[]>;
  exited: Promise<number | null>;
}

/** Starts a process whose output lines are shown with a prefix and searched for `patterns`. */
function start(name: string, args: string[], patterns: RegExp[]): Started {
  console.log(`$ node ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const values: (string | undefined)[] = patterns.map(() => undefined);
  let settle: (v: string[]) => void = () => {};
  let fail: (e: Error) => void = () => {};
  const found = new Promise<string[]>((res, rej) => {
    settle = res;
    fail = rej;
  });
  const exited = new Promise<number | null>((res) => {
    child.on('exit', (code, signal) => {
      fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
      res(code);
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      console.log(`[${name}] ${line}`);
      patterns.forEach((pattern, i) => {
        const m = values[i] === undefined ? pattern.exec(line) : null;
        if (m) values[i] = m[1];
      });
      if (values.every((v) => v !== undefined)) settle(values as string[]);
    });
  }
  return { child, found, exited };
}

// The devnet keeps its storage in memory and starts again at sequence 0: start from empty files.
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });

const devnet = start(
  'devnet',
  [
    devnetBin,
    '--app',
    '--port',
    devnetPort,
    '--rate',
    rate,
    '--snapshot-every',
    '200',
    '--batch-max-messages',
    '20',
    '--flush-interval-ms',
    '500',
    '--app-db',
    join(dataDir, 'app.db'),
  ],
  [/^sequencer\s+(http:\S+)/, /^signer pubkey\s+((?:0x)?[0-9a-f]{128})$/],
);
const children: Started[] = [devnet];
let stopping = false;

/**
 * Stops the validator, then the sequencer. After Ctrl-C the terminal has sent SIGINT to both
 * already (one process group): each gets a few seconds to stop by itself, since a second signal
 * makes the validator exit at once instead of finishing its commit. Then SIGTERM.
 */
async function stop(code: number, signal?: NodeJS.Signals): Promise<never> {
  if (stopping) process.exit(130);
  stopping = true;
  for (const p of [...children].reverse()) {
    const running = () => p.child.exitCode === null && p.child.signalCode === null;
    if (running() && signal === 'SIGINT') {
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    if (running()) p.child.kill('SIGTERM');
    const exit = await p.exited;
    if (exit !== 0 && code === 0) code = 1;
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0, 'SIGINT'));
process.on('SIGTERM', () => void stop(0, 'SIGTERM'));

try {
  const [sequencerUrl, pubkey] = (await devnet.found) as [string, string];
  const databasePath = join(dataDir, 'validator.db');
  const validator = start(
    'validator',
    [
      validatorBin,
      '--sequencer-url',
      sequencerUrl,
      '--sequencer-pubkey',
      pubkey,
      '--database-path',
      databasePath,
      '--bind-address',
      validatorBind,
      '--sync-interval',
      '250ms',
      '--max-lag',
      '100',
      '--bridge-signer',
      '--bridge-chain-id',
      '31337',
      '--bridge-signature-endpoint',
      signatureBind,
    ],
    [
      /synddb-validator started .*\burl=(http:\S+)/,
      /bridge signer started .*signatureApi=(http:\S+)/,
    ],
  );
  children.push(validator);
  const [api, signatures] = (await validator.found) as [string, string];
  console.log(`
SyndDB local devnet is running: the sequencer and the validator are two processes.
  sequencer       ${sequencerUrl}   (storage API: ${sequencerUrl}/storage/batches)
  sample app db   ${join(dataDir, 'app.db')}   (${rate} transactions/s, snapshot every 200)
  validator API   ${api}
  signature API   ${signatures}   (bridge signer, chain id 31337)
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
  if (smoke !== null) {
    for (;;) {
      const status = (await (await fetch(`${api}/status`)).json()) as {
        last_sequence?: number | null;
        state?: string;
      };
      const pending = (await (await fetch(`${signatures}/pending`)).json()) as { count: number };
      const applied = BigInt(status.last_sequence ?? -1);
      if (applied + 1n >= smoke && pending.count > 0) {
        console.log(
          `smoke: applied ${applied}, state ${status.state}, signed ${pending.count} withdrawals`,
        );
        await stop(0);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // A process that dies on its own ends the devnet: say so and stop the other one.
  const exit = await Promise.race(children.map((c) => c.exited));
  if (!stopping) {
    console.error(`a process exited on its own (code ${exit}); stopping`);
    await stop(1);
  }
} catch (error) {
  if (!stopping) {
    console.error(`start failed: ${error instanceof Error ? error.message : String(error)}`);
    await stop(1);
  }
}
