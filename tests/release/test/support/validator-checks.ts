import { waitFor } from '@synddb/test-support';
import { getBytes, hashMessage, recoverAddress } from 'ethers';
import { expect } from 'vitest';
import type { Devnet, Validator } from './processes';
import { queryOne } from './sqlite-dump';

export interface ValidatorArgsOptions {
  /** Where batches come from. Default: the devnet's HTTP storage API. */
  storage?: string[];
  /** Bridge signer mode (chain 31337, signature API on any free port). Default true. */
  bridgeSigner?: boolean;
  extra?: string[];
}

/**
 * Flags of a validator replicating `devnet` (its key; by default over its HTTP API) into
 * `databasePath`, on any free port, polling storage every 100 ms.
 */
export function validatorArgs(
  devnet: Devnet,
  databasePath: string,
  options: ValidatorArgsOptions = {},
): string[] {
  return [
    ...(options.storage ?? ['--sequencer-url', devnet.url]),
    '--sequencer-pubkey',
    devnet.pubkey,
    '--database-path',
    databasePath,
    '--bind-address',
    '127.0.0.1:0',
    '--sync-interval',
    '100ms',
    '--batch-index-refresh-interval',
    '100ms',
    ...(options.bridgeSigner === false
      ? []
      : [
          '--bridge-signer',
          '--bridge-chain-id',
          '31337',
          '--bridge-signature-endpoint',
          '127.0.0.1:0',
        ]),
    ...(options.extra ?? []),
  ];
}

/**
 * Waits until the validator has applied `head`. A halt fails at once unless `allowHalts` (storage
 * fault tests, where a halt that heals by itself is expected).
 */
export async function caughtUp(
  validator: Validator,
  head: bigint,
  options: { allowHalts?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(
    async () => {
      const s = await validator.status();
      if (s.halt !== null && options.allowHalts !== true) {
        throw new Error(`halted: ${JSON.stringify(s.halt)}`);
      }
      return s.last_sequence !== null && BigInt(s.last_sequence) === head;
    },
    { what: `validator at sequence ${head}`, timeoutMs: options.timeoutMs ?? 120_000 },
  );
}

async function allSignatures(
  signatureUrl: string,
): Promise<{ message_id: string; signature: string }[]> {
  const out: { message_id: string; signature: string }[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = (await (
      await fetch(`${signatureUrl}/signatures?offset=${offset}&limit=500`)
    ).json()) as { message_id: string; signature: string }[];
    out.push(...page);
    if (page.length < 500) return out;
  }
}

/** Every withdrawal of the source is signed once, by the validator's key, over its message id. */
export async function expectEveryWithdrawalSigned(
  validator: Validator,
  appDb: string,
): Promise<number> {
  const url = validator.signatureUrl!;
  const info = (await (await fetch(`${url}/info`)).json()) as { signer: string; chain_id: number };
  expect(info.chain_id).toBe(31337);
  const withdrawals = queryOne<{ n: number }>(appDb, 'SELECT count(*) AS n FROM withdrawals').n;
  expect(withdrawals).toBeGreaterThan(0);
  const signatures = await waitFor(
    async () => {
      const all = await allSignatures(url);
      return all.length === withdrawals ? all : undefined;
    },
    { what: `${withdrawals} withdrawals signed`, timeoutMs: 60_000 },
  );
  expect(new Set(signatures.map((s) => s.message_id)).size).toBe(withdrawals);
  for (const s of signatures) {
    // what the Bridge recovers: EIP-191 over the raw 32-byte message id
    expect(recoverAddress(hashMessage(getBytes(s.message_id)), s.signature).toLowerCase()).toBe(
      info.signer,
    );
  }
  return withdrawals;
}

/** Lines that must never appear: error logs and native aborts. */
export function errorLines(lines: readonly string[]): string[] {
  return lines.filter(
    (l) => / (ERROR|FATAL) /.test(l) || /Assertion failed|Abort|Segmentation/.test(l),
  );
}
