// `npm start` (through scripts/toolchain.mjs, after `pnpm build`): a local SyndDB devnet, a local
// chain and the built validators and relayer, each its own process, as an operator runs them:
//   anvil                        a local EVM node (npm's @foundry-rs/anvil) with this repo's test
//                                Bridge (tests/contracts): threshold 2 of the 3 validators' keys,
//                                the sequencer's key registered, the relayer an initializer
//   synddb-devnet --app ...      a sequencer and its sample application writing ~10 transactions/s,
//                                posting its withdrawals to the relayer (--relayer-url)
//   synddb-validator ... (x3)    replicating it, in bridge signer mode (local chain id 31337)
//   synddb-relayer ...           landing every withdrawal on the local chain
//
// Env: SYNDDB_VALIDATOR_BIND (127.0.0.1:8080), SYNDDB_SIGNATURE_BIND (127.0.0.1:8081; the other
// two validators use ports +100 and +200), SYNDDB_RELAYER_BIND (127.0.0.1:8082),
// SYNDDB_DEVNET_PORT (8433; 0 = any free port), SYNDDB_DEVNET_RATE (transactions/s, 10),
// SYNDDB_DATA_DIR (.data/devnet). SYNDDB_START_SMOKE=N stops everything and exits 0 once the
// validator has applied N messages and signed a withdrawal (the test that keeps this true).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  ANVIL_KEYS,
  addressOfKey,
  deployTestBridge,
  randomKey,
  startAnvil,
} from '@synddb/test-contracts';

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
const relayerBin = join(root, 'apps/relayer/dist/cli.js');
const relayerBind = env.SYNDDB_RELAYER_BIND ?? '127.0.0.1:8082';
const shiftPort = (bind: string, by: number) =>
  bind.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) === 0 ? 0 : Number(p) + by}`);

/** Whether `port` can be bound on `host` right now (closed again at once). */
function canBind(host: string, port: number): Promise<number | null> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(null));
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() =>
        resolvePort(typeof address === 'object' && address !== null ? address.port : null),
      );
    });
  });
}

/**
 * Lowest port the kernel hands out for port-0 binds, when it says (Linux). A port picked below it
 * cannot be given to another process's port-0 bind (the devnet's, anvil's, a validator's API)
 * between the moment it is picked here and the moment its validator binds it: a port picked by a
 * port-0 bind and released was once handed to the devnet at once (CI: EADDRINUSE).
 */
function ephemeralLow(): number | null {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(low) && low > 2048 ? low : null;
  } catch {
    return null;
  }
}

/** A port free right now on `host`, below the ephemeral range when it is known. */
async function freePort(host: string, taken: Set<number>): Promise<number> {
  const low = ephemeralLow();
  if (low !== null) {
    const from = Math.max(1024, low - 10_000);
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = from + Math.floor(Math.random() * (low - from));
      if (taken.has(port)) continue;
      if ((await canBind(host, port)) !== null) return port;
    }
  }
  // Elsewhere the OS picks (another process could take it before its validator binds it).
  const port = await canBind(host, 0);
  if (port === null) throw new Error(`no free port on ${host}`);
  return port;
}

/**
 * The three validators' signature API binds. The relayer is started before the validators (the
 * sample app posts its first withdrawal within seconds) and needs their URLs, so a port 0 is
 * resolved here to three free ports instead of being left to each validator.
 */
async function signatureBinds(bind: string): Promise<string[]> {
  const m = /^(.*):(\d+)$/.exec(bind);
  if (m === null || Number(m[2]) !== 0) return [0, 100, 200].map((by) => shiftPort(bind, by));
  const host = m[1]!;
  const taken = new Set<number>();
  const binds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort(host, taken);
    taken.add(port);
    binds.push(`${host}:${port}`);
  }
  return binds;
}
const signatureBindsOf = await signatureBinds(signatureBind);
const hostOf = (bind: string) => bind.replace(/^0\.0\.0\.0:/, '127.0.0.1:');

/** Options whose value is a secret: shown as `<redacted>` in the printed command lines. */
const SECRET_OPTIONS = new Set(['--private-key', '--bridge-signer-key', '--signing-key']);

/** A command line to print: quoted where needed, private keys replaced by `<redacted>`. */
function printable(args: readonly string[]): string {
  return args
    .map((a, i) =>
      i > 0 && SECRET_OPTIONS.has(args[i - 1]!)
        ? '<redacted>'
        : a.includes(' ')
          ? JSON.stringify(a)
          : a,
    )
    .join(' ');
}

interface Started {
  child: ChildProcess;
  /** Resolves with the first match of each pattern on the process's output. */
  found: Promise<string[]>;
  exited: Promise<number | null>;
}

/** Starts a process whose output lines are shown with a prefix and searched for `patterns`. */
function start(name: string, args: string[], patterns: RegExp[]): Started {
  console.log(`$ node ${printable(args)}`);
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

// The local chain: anvil and the test Bridge, keys chosen here so the Bridge knows them up front.
const anvil = await startAnvil({ blockTime: 1 });
const sequencerKey = randomKey();
const validatorKeys = [0, 1, 2].map(() => randomKey());
const relayerKey = ANVIL_KEYS[1];
const chain = await deployTestBridge({
  rpcUrl: anvil.url,
  threshold: 2,
  sequencers: [addressOfKey(sequencerKey)],
  validators: validatorKeys.map((k) => addressOfKey(k)),
  initializers: [addressOfKey(relayerKey)],
});
chain.provider.destroy();
console.log(
  `anvil ${anvil.url}: test Bridge ${chain.addresses.bridge} (threshold 2 of 3 validators)`,
);

const children: Started[] = [];
// The relayer first: the sample app posts its first withdrawal to it within seconds.
const relayer = start(
  'relayer',
  [
    relayerBin,
    '--rpc-url',
    anvil.url,
    '--chain-id',
    '31337',
    '--bridge-address',
    chain.addresses.bridge,
    '--private-key',
    relayerKey,
    '--listen-addr',
    relayerBind,
    '--database-path',
    join(dataDir, 'relayer.db'),
    '--validator-url',
    signatureBindsOf.map((bind) => `http://${hostOf(bind)}`).join(','),
    '--poll-interval',
    '500ms',
  ],
  [/synddb-relayer started .*\burl=(http:\S+)/],
);
children.push(relayer);
const [relayerApi] = (await relayer.found) as [string];

const devnet = start(
  'devnet',
  [
    devnetBin,
    '--private-key',
    sequencerKey.slice(2),
    '--relayer-url',
    relayerApi,
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
children.push(devnet);
let stopping = false;

/**
 * Stops the validator, then the sequencer. After Ctrl-C the terminal has sent SIGINT to both
 * already (one process group): each gets a few seconds to stop by itself, since a second signal
 * makes the validator exit at once instead of finishing its commit. Then SIGTERM.
 */
async function stop(code: number, signal?: NodeJS.Signals): Promise<never> {
  if (stopping) process.exit(130);
  stopping = true;
  const stopAnvil = () => anvil.stop();
  for (const p of [...children].reverse()) {
    const running = () => p.child.exitCode === null && p.child.signalCode === null;
    if (running() && signal === 'SIGINT') {
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    if (running()) p.child.kill('SIGTERM');
    const exit = await p.exited;
    if (exit !== 0 && code === 0) code = 1;
  }
  await stopAnvil();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0, 'SIGINT'));
process.on('SIGTERM', () => void stop(0, 'SIGTERM'));

try {
  const [sequencerUrl, pubkey] = (await devnet.found) as [string, string];
  const databasePath = join(dataDir, 'validator.db');
  const validators = [0, 1, 2].map((i) =>
    start(
      i === 0 ? 'validator' : `validator-${i + 1}`,
      [
        validatorBin,
        '--sequencer-url',
        sequencerUrl,
        '--sequencer-pubkey',
        pubkey,
        '--database-path',
        i === 0 ? databasePath : join(dataDir, `validator-${i + 1}.db`),
        '--bind-address',
        shiftPort(validatorBind, 100 * i),
        '--sync-interval',
        '250ms',
        '--max-lag',
        '100',
        '--bridge-signer',
        '--bridge-chain-id',
        '31337',
        '--bridge-address',
        chain.addresses.bridge,
        '--bridge-signature-endpoint',
        signatureBindsOf[i]!,
        '--bridge-signer-key',
        validatorKeys[i]!,
        // follow the Bridge's MessageHandled events: relayed withdrawals leave /pending
        '--bridge-rpc-url',
        anvil.url,
        '--bridge-confirmations',
        '1',
        '--bridge-poll-interval',
        '1s',
      ],
      [
        /synddb-validator started .*\burl=(http:\S+)/,
        /bridge signer started .*signatureApi=(http:\S+)/,
      ],
    ),
  );
  children.push(...validators);
  const validator = validators[0]!;
  await Promise.all(validators.map((v) => v.found));
  const [api, signatures] = (await validator.found) as [string, string];
  console.log(`
SyndDB local devnet is running: the sequencer and the validator are two processes.
  sequencer       ${sequencerUrl}   (storage API: ${sequencerUrl}/storage/batches)
  sample app db   ${join(dataDir, 'app.db')}   (${rate} transactions/s, snapshot every 200)
  validator API   ${api}
  signature API   ${signatures}   (bridge signer, chain id 31337)
  replica         ${databasePath}
  validators 2, 3 signature APIs on ${signatureBindsOf[1]}, ${signatureBindsOf[2]}
  chain           ${anvil.url}   (anvil, chain id 31337, 1 s blocks; test Bridge ${chain.addresses.bridge})
  relayer         ${relayerApi}   (threshold 2 of 3 validator signatures; the sample app posts its withdrawals)

Try:
  curl ${api}/status
  curl ${api}/ready
  curl -s ${api}/metrics | grep synddb_
  curl -s ${api}/query -H 'content-type: application/json' -d '{"sql":"SELECT id, owner, balance FROM accounts LIMIT 5"}'
  sqlite3 -readonly ${databasePath} 'SELECT id, owner, balance FROM accounts LIMIT 5'
  curl ${signatures}/pending
  curl ${signatures}/signatures
  curl '${relayerApi}/withdrawals?state=confirmed'
  curl -s ${relayerApi}/metrics | grep synddb_relayer_

Ctrl-C stops everything.
`);
  // Say when the sample app's withdrawals land on the local chain.
  let reported = 0;
  const landed = setInterval(async () => {
    try {
      const page = (await (
        await fetch(`${relayerApi}/withdrawals?state=confirmed&limit=1`)
      ).json()) as {
        total: number;
      };
      if (page.total > reported) {
        reported = page.total;
        console.log(
          `relayer: ${page.total} withdrawals confirmed on the local chain (exactly once each)`,
        );
      }
    } catch {
      // the relayer is stopping
    }
  }, 2000);
  landed.unref();
  if (smoke !== null) {
    for (;;) {
      const status = (await (await fetch(`${api}/status`)).json()) as {
        last_sequence?: number | null;
        state?: string;
      };
      // signed so far (relayed ones leave /pending once the validator sees them completed)
      const metrics = await (await fetch(`${api}/metrics`)).text();
      const signed = Number(
        /^synddb_validator_withdrawals_signed_total (\d+)/m.exec(metrics)?.[1] ?? 0,
      );
      const applied = BigInt(status.last_sequence ?? -1);
      if (applied + 1n >= smoke && signed > 0 && reported > 0) {
        console.log(
          `smoke: applied ${applied}, state ${status.state}, signed ${signed} withdrawals, relayed ${reported} on-chain`,
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
