import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);

/** Anvil's default accounts (mnemonic "test test ... junk"): public test keys, never use elsewhere. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
] as const;

export const ANVIL_CHAIN_ID = 31337n;

export interface Anvil {
  url: string;
  port: number;
  chainId: bigint;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartAnvilOptions {
  /** Seconds between blocks; default: a block per transaction (automine). */
  blockTime?: number;
  /** Extra command-line arguments. */
  args?: string[];
}

/** The anvil binary of this platform, from the npm package `@foundry-rs/anvil-<platform>`. */
export function anvilBinary(): string {
  const platform = { linux: 'linux', darwin: 'darwin', win32: 'win32' }[process.platform as string];
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
  if (platform === undefined || arch === undefined) {
    throw new Error(`no anvil package for ${process.platform}-${process.arch}`);
  }
  const executable = platform === 'win32' ? 'anvil.exe' : 'anvil';
  const target = `@foundry-rs/anvil-${platform}-${arch}/bin/${executable}`;
  try {
    return require.resolve(target);
  } catch {
    // pnpm links the platform package beside @foundry-rs/anvil (its optional dependency), where
    // plain Node resolution from this directory does not look
    return createRequire(require.resolve('@foundry-rs/anvil/package.json')).resolve(target);
  }
}

/** Starts a local EVM node on a free loopback port; resolves once it listens. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(ANVIL_CHAIN_ID)];
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  args.push(...(options.args ?? []));
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`anvil did not start:\n${lines.join('\n')}`)),
      30_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /Listening on [^:\s]+:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with code ${code}:\n${lines.join('\n')}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    chainId: ANVIL_CHAIN_ID,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
