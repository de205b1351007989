import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '@synddb/test-support';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const VALIDATOR_BIN = join(ROOT, 'apps/validator/dist/cli.js');
export const DEVNET_BIN = join(ROOT, 'apps/devnet/dist/cli.js');

/** A built binary running as its own process, with its output kept and searchable. */
export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every line of stdout and stderr so far. */
  readonly lines: string[];
  /** Resolves with the first capture group of the first line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Settles when the process has exited: its code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `node <args>`; its lines are kept (and echoed when SYNDDB_RELEASE_ECHO=1). A process
 * still running after the test (or the file, when started outside a test) is killed (SIGKILL).
 */
export function startProcess(
  name: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): RunningProcess {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      lines.push(line);
      if (process.env.SYNDDB_RELEASE_ECHO === '1') console.log(`[${name}] ${line}`);
      for (const w of watchers) w(line);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const handle: RunningProcess = {
    name,
    child,
    lines,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitForLine(pattern, timeoutMs = 60_000) {
      for (const line of lines) {
        const m = pattern.exec(line);
        if (m) return Promise.resolve(m[1] ?? m[0]);
      }
      return new Promise<string>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          watchers.delete(watch);
        };
        const watch = (line: string) => {
          const m = pattern.exec(line);
          if (m) {
            done();
            resolve(m[1] ?? m[0]);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`${name}: no line matched ${pattern} in ${timeoutMs} ms:\n${tail(lines)}`),
          );
        }, timeoutMs);
        watchers.add(watch);
        void exited.then(({ code, signal }) => {
          if (!watchers.has(watch)) return;
          done();
          reject(
            new Error(
              `${name} exited (code ${code}, signal ${signal}) before a line matched ${pattern}:\n${tail(lines)}`,
            ),
          );
        });
      });
    },
  };
  onCleanup(async () => {
    handle.kill('SIGKILL');
    await exited;
  });
  return handle;
}

export function tail(lines: readonly string[], n = 40): string {
  return lines.slice(-n).join('\n');
}

export interface Devnet extends RunningProcess {
  url: string;
  pubkey: string;
  appDb: string;
  /** Resolves once the sample app has run all its transactions. */
  appDone(timeoutMs?: number): Promise<void>;
  /** Publishes the partial batch now and returns the last sequence in storage. */
  flushedHead(): Promise<bigint>;
}

/** Starts the built `synddb-devnet` (sequencer + sample app) and reads its URL and key. */
export async function startDevnet(options: { directory: string; args: string[] }): Promise<Devnet> {
  const appDb = join(options.directory, 'app.db');
  const p = startProcess('devnet', [
    DEVNET_BIN,
    '--port',
    '0',
    '--app',
    '--app-db',
    appDb,
    ...options.args,
  ]);
  const url = await p.waitForLine(/^sequencer\s+(http:\S+)$/);
  const pubkey = await p.waitForLine(/^signer pubkey\s+(\S+)$/);
  return Object.assign(p, {
    url,
    pubkey,
    appDb,
    async appDone(timeoutMs = 120_000) {
      await p.waitForLine(/^sample app done: /, timeoutMs);
    },
    async flushedHead() {
      const flush = await fetch(`${url}/batch/flush`, { method: 'POST' });
      if (!flush.ok) throw new Error(`devnet flush: HTTP ${flush.status}`);
      const status = (await (await fetch(`${url}/status`)).json()) as { current_sequence: number };
      return BigInt(status.current_sequence) - 1n;
    },
  });
}

export interface Validator extends RunningProcess {
  url: string;
  /** The signature API's URL in bridge signer mode, else undefined. */
  signatureUrl: string | undefined;
  status(): Promise<ValidatorStatus>;
}

export interface ValidatorStatus {
  last_sequence: number | null;
  head_sequence: number | null;
  lag_sequences: number;
  state: string;
  halt: { code: string; kind: string; message: string; sequence: number } | null;
}

/**
 * Starts the built `synddb-validator` binary with `args` (and Node options `nodeArgs` before
 * it) and waits until it serves.
 */
export async function startValidator(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): Promise<Validator> {
  const p = startProcess('validator', [...(options.nodeArgs ?? []), VALIDATOR_BIN, ...args], {
    env: options.env ?? {},
  });
  const url = await p.waitForLine(/synddb-validator started .*\burl=(http:\S+)/);
  const signatureUrl = args.includes('--bridge-signer')
    ? await p.waitForLine(/bridge signer started .*\bsignatureApi=(http:\S+)/)
    : undefined;
  return Object.assign(p, {
    url,
    signatureUrl,
    async status() {
      return (await (await fetch(`${url}/status`)).json()) as ValidatorStatus;
    },
  });
}
