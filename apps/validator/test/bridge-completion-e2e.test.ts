/**
 * Completion on-chain end to end: devnet sequencer, a validator in bridge signer mode following
 * this repo's test Bridge on anvil (BRIDGE_RPC_URL). A relayer executes withdrawals with the
 * sequencer's and the validator's signatures; once confirmed, the validator marks them completed,
 * counts them in synddb_withdrawals_processed_total and the pending lists shrink. The block cursor
 * is kept in the replica across a restart.
 */
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { signerKeyFromHex } from '@synddb/bridge-signer';
import { startDevnetWithApp } from '@synddb/devnet';
import {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  mockPublicValues,
  SEQUENCER_KEY_TYPE,
  startAnvil,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const VALIDATOR_KEY = `0x${'71'.repeat(32)}`;
const RECIPIENT = '0x00000000000000000000000000000000000a11ce';
const relayer = new Wallet(ANVIL_KEYS[2]);

let anvil: Anvil;
let chain: TestBridgeDeployment;

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployTestBridge({
    rpcUrl: anvil.url,
    threshold: 1,
    validators: [signerKeyFromHex(VALIDATOR_KEY).address],
    initializers: [relayer.address],
  });
});
afterAll(async () => {
  chain?.provider.destroy();
  await anvil?.stop();
});

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('completion on-chain', { timeout: 120_000 }, () => {
  it('follows MessageHandled: completed withdrawals leave the pending lists, restart-safe', async () => {
    const dir = tempDir('validator-completion-');
    const { sequencer, url, app } = await startDevnetWithApp({ directory: dir, onCleanup });
    const receipts: Awaited<ReturnType<typeof app.client.postWithdrawal>>[] = [];
    for (let i = 0; i < 3; i++) {
      receipts.push(
        await app.client.postWithdrawal({
          requestId: `0x${(i + 1).toString(16).padStart(4, '0')}`,
          recipient: RECIPIENT,
          amount: String(1000 + i),
          data: new Uint8Array(),
        }),
      );
    }
    sequencer.flush();
    // the sequencer's bridge key is registered like the relayer's deployment would
    await (
      await chain.bridge.getFunction('registerKey')(
        SEQUENCER_KEY_TYPE,
        mockPublicValues(receipts[0]!.bridge_signature.signer),
        '0x',
      )
    ).wait();

    const logger = createLogger({ json: true, write: () => {} });
    const start = async (): Promise<ValidatorHandle> => {
      const v = await startValidator(
        {
          sequencerUrl: url,
          sequencerPubkey: sequencer.pubkeyHex,
          databasePath: join(dir, 'replica', 'validator.db'),
          bindAddress: '127.0.0.1:0',
          bridgeSigner: true,
          bridgeChainId: anvil.chainId,
          bridgeAddress: chain.addresses.bridge,
          bridgeSignatureEndpoint: '127.0.0.1:0',
          bridgeSignerKey: VALIDATOR_KEY,
          bridgeRpcUrl: anvil.url,
          bridgeConfirmations: '1',
          bridgeStartBlock: '0',
          bridgePollInterval: '50ms',
          syncInterval: '50ms',
          batchIndexRefreshInterval: '100ms',
          queryWorkers: 0,
        },
        { logger },
      );
      onCleanup(() => v.stop());
      return v;
    };
    const pendingCount = async (api: string) =>
      (await getJson<{ count: number }>(`${api}/signatures/pending`)).count;

    let validator = await start();
    let api = validator.bridge!.url;
    await waitFor(async () => (await pendingCount(api)) === 3, 'three withdrawals signed');

    const bridge = chain.bridge.connect(relayer.connect(chain.provider)) as typeof chain.bridge;
    const execute = async (i: number) => {
      const r = receipts[i]!;
      const { signature } = await getJson<{ signature: string }>(
        `${api}/signature/${r.bridge_signature.message_id}`,
      );
      const tx = await bridge.getFunction('initializeAndHandleMessage')(
        r.bridge_signature.message_id,
        RECIPIENT,
        '0x',
        { signature: r.bridge_signature.signature, submittedAt: 0 },
        [signature],
        1000 + i,
      );
      expect((await tx.wait())?.status).toBe(1);
    };
    await execute(0);
    await execute(1);
    // confirmed one block later
    await chain.provider.send('anvil_mine', ['0x1']);
    await waitFor(async () => (await pendingCount(api)) === 1, 'two withdrawals completed');
    const remaining = receipts[2]!.bridge_signature.message_id.toLowerCase();
    expect((await getJson<{ message_ids: string[] }>(`${api}/pending`)).message_ids).toEqual([
      remaining,
    ]);
    expect(
      (await getJson<{ message_id: string }[]>(`${api}/signatures`)).map((s) => s.message_id),
    ).toEqual([remaining]);
    const done = await getJson<{ completed: { block_number: number } | null }[]>(
      `${api}/signatures/withdrawal/${receipts[0]!.bridge_signature.message_id}`,
    );
    expect(done[0]!.completed?.block_number).toBeGreaterThan(0);
    // a completed withdrawal's signature stays available
    expect(
      (await fetch(`${api}/signature/${receipts[0]!.bridge_signature.message_id}`)).status,
    ).toBe(200);
    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metric(metrics, 'synddb_withdrawals_processed_total')).toBe(2);
    expect(metric(metrics, 'synddb_validator_bridge_block')).toBeGreaterThan(0);
    await validator.stop();

    // restart: the cursor and the completions are in the replica
    validator = await start();
    api = validator.bridge!.url;
    expect(await pendingCount(api)).toBe(1);
    await execute(2);
    await chain.provider.send('anvil_mine', ['0x1']);
    await waitFor(async () => (await pendingCount(api)) === 0, 'the last withdrawal completed');
    const after = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metric(after, 'synddb_withdrawals_processed_total')).toBe(1);
    expect((await getJson<{ count: number }>(`${api}/pending`)).count).toBe(0);
  });
});
