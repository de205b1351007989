/**
 * State attestations end to end: two validators in bridge signer mode reach the same sequences by
 * different paths (one replays everything with a prepare worker, one starts on a snapshot with
 * none) and publish the same state roots; the attestations are EIP-712 signatures that recover to
 * each signer, survive a restart, and the state-root command agrees with what was attested.
 */
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import type { StateAttestationJson } from '@synddb/bridge-signer';
import { startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { verifyTypedData } from 'ethers';
import { describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';
import { runStateRootCommand } from '../src/state-root-command';

const BRIDGE = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const KEY_A = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const KEY_B = '59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

/** What the signature API serves (the recovery below is written from the spec, not imported). */
type Attestation = StateAttestationJson;

async function attestations(
  api: string,
  sequence: bigint,
): Promise<{ status: number; body: Attestation[] }> {
  const response = await fetch(`${api}/signatures/state/${sequence}`);
  return { status: response.status, body: (await response.json()) as Attestation[] };
}

/** One unlabelled sample of the Prometheus exposition. */
function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

function recover(a: Attestation): string {
  return verifyTypedData(
    { name: 'SyndDBStateAttestation', version: '1', chainId: 31337n, verifyingContract: BRIDGE },
    {
      StateAttestation: [
        { name: 'sequence', type: 'uint64' },
        { name: 'stateRoot', type: 'bytes32' },
        { name: 'messageHash', type: 'bytes32' },
      ],
    },
    { sequence: BigInt(a.sequence), stateRoot: a.state_root, messageHash: a.message_hash },
    a.signature,
  );
}

describe('state attestations', { timeout: 120_000 }, () => {
  it('two validators on different paths attest the same roots; signatures recover, survive a restart, match the CLI', async () => {
    const dir = tempDir('validator-state-attest-');
    const { sequencer, url, app } = await startDevnetWithApp({
      directory: dir,
      onCleanup,
      sequencer: { batchMaxMessages: 7 },
      idSeed: 12,
    });
    await app.runWorkload({ transactions: 60, seed: 7, snapshotEvery: 25 });
    sequencer.flush();
    const head = BigInt(sequencer.storage.latest()!);
    const snapshots = app.sent.filter((m) => m.kind === 'snapshot').map((m) => BigInt(m.sequence));
    const withdrawals = app.sent
      .filter((m) => m.kind === 'withdrawal')
      .map((m) => BigInt(m.sequence));
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(withdrawals.length).toBeGreaterThan(0);
    const start = snapshots[1]!;

    const logger = createLogger({ json: true, level: 'error', write: () => {} });
    const base = {
      sequencerUrl: url,
      sequencerPubkey: sequencer.pubkeyHex,
      bindAddress: '127.0.0.1:0',
      bridgeSigner: true,
      bridgeChainId: 31337n,
      bridgeAddress: BRIDGE,
      bridgeSignatureEndpoint: '127.0.0.1:0',
      syncInterval: '50ms',
      batchIndexRefreshInterval: '100ms',
      queryWorkers: 0,
    };
    const started: ValidatorHandle[] = [];
    onCleanup(async () => {
      for (const v of started) await v.stop().catch(() => {});
    });
    const run = async (config: Record<string, unknown>) => {
      const v = await startValidator({ ...base, ...config }, { logger });
      started.push(v);
      return v;
    };
    const pathA = join(dir, 'a', 'replica.db');
    let a = await run({
      databasePath: pathA,
      bridgeSignerKey: KEY_A,
      stateAttestationInterval: 5,
      verifyThreads: 1,
    });
    const b = await run({
      databasePath: join(dir, 'b', 'replica.db'),
      bridgeSignerKey: KEY_B,
      stateAttestationInterval: 1,
      startSequence: start,
      verifyThreads: 0,
    });
    const attested = (s: bigint) => s % 5n === 0n || withdrawals.includes(s);
    const lastA = [...Array(Number(head) + 1).keys()].map(BigInt).filter(attested).at(-1)!;
    await waitFor(
      async () => (await attestations(a.bridge!.url, lastA)).status === 200,
      'A attested',
    );
    await waitFor(
      async () => (await attestations(b.bridge!.url, head)).status === 200,
      'B attested',
    );

    const seenA = new Map<bigint, Attestation>();
    let compared = 0;
    for (let s = 0n; s <= head; s++) {
      const fromA = await attestations(a.bridge!.url, s);
      if (!attested(s)) {
        expect(fromA).toEqual({ status: 404, body: [] });
        continue;
      }
      expect(fromA.status).toBe(200);
      expect(fromA.body).toHaveLength(1);
      const att = fromA.body[0]!;
      seenA.set(s, att);
      expect(att.sequence).toBe(s.toString());
      expect(recover(att)).toBe(a.bridge!.address);
      // the message hash is the sequencer's message_hash of that sequence
      const message = (await (await fetch(`${url}/storage/messages/${s}`)).json()) as {
        message_hash: string;
      };
      expect(att.message_hash).toBe(message.message_hash.toLowerCase());
      if (s >= start) {
        const [fromB] = (await attestations(b.bridge!.url, s)).body;
        expect(fromB?.state_root).toBe(att.state_root);
        expect(fromB?.message_hash).toBe(att.message_hash);
        expect(recover(fromB!)).toBe(b.bridge!.address);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(3);
    // ... and the metrics say so
    const metricsA = await (await fetch(`${a.url}/metrics`)).text();
    expect(metricValue(metricsA, 'synddb_validator_state_attestations_signed_total')).toBe(
      seenA.size,
    );
    expect(metricValue(metricsA, 'synddb_validator_state_attestation_sequence')).toBe(
      Number(lastA),
    );
    expect(metricValue(metricsA, 'synddb_validator_state_attestations_unsigned')).toBe(0);
    expect(metricValue(metricsA, 'synddb_validator_state_attestation_signing_errors_total')).toBe(
      0,
    );
    expect((await attestations(b.bridge!.url, start - 1n)).status).toBe(404);

    // A restarts: its attestations are persisted in the replica and served again, unchanged
    await a.stop();
    const out: string[] = [];
    expect(
      runStateRootCommand(['--database', pathA], {
        env: {},
        stdout: (t) => out.push(t),
        stderr: () => {},
      }),
    ).toBe(0);
    const printed = JSON.parse(out.join('')) as {
      sequence: number;
      stateRoot: string;
      storedStateRoot: string;
    };
    expect(printed.sequence).toBe(Number(head));
    expect(printed.storedStateRoot).toBe(printed.stateRoot);
    expect(printed.stateRoot).toBe((await attestations(b.bridge!.url, head)).body[0]!.state_root);

    a = await run({
      databasePath: pathA,
      bridgeSignerKey: KEY_A,
      stateAttestationInterval: 5,
      verifyThreads: 1,
    });
    for (const [s, att] of seenA)
      expect((await attestations(a.bridge!.url, s)).body).toEqual([att]);
    const doc = (await (await fetch(`${a.bridge!.url}/openapi.json`)).json()) as object;
    expect(JSON.stringify(doc)).toContain('SyndDBStateAttestation');
  });

  it('is off by default: the route answers STATE_ATTESTATIONS_DISABLED', async () => {
    const dir = tempDir('validator-state-off-');
    const { sequencer, url } = await startDevnetWithApp({ directory: dir, onCleanup });
    const v = await startValidator(
      {
        sequencerUrl: url,
        sequencerPubkey: sequencer.pubkeyHex,
        databasePath: join(dir, 'replica.db'),
        bindAddress: '127.0.0.1:0',
        bridgeSigner: true,
        bridgeChainId: 31337n,
        bridgeSignatureEndpoint: '127.0.0.1:0',
        queryWorkers: 0,
      },
      { logger: createLogger({ json: true, level: 'error', write: () => {} }) },
    );
    onCleanup(() => v.stop());
    expect(v.engine.stateRoot).toBeUndefined();
    const response = await fetch(`${v.bridge!.url}/signatures/state/0`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'STATE_ATTESTATIONS_DISABLED' });
  });
});
