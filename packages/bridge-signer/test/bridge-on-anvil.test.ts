/**
 * On a real EVM node (anvil) with this repo's test Bridge (tests/contracts): every request-id
 * vector that has a message id is recorded, signed by the outbox signer under the sequencer's id,
 * and accepted by the Bridge (threshold 1, our key as the only Validator key); the follower then
 * sees each `MessageHandled` once confirmed, and the pending list shrinks to nothing. The cursor
 * is kept in the replica: a restarted follower resumes after it, and unconfirmed blocks are never
 * recorded.
 */
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@synddb/protocol';
import { openStateStore } from '@synddb/state-store';
import {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  startAnvil,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import { onCleanup, tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitWithdrawal } from '../src/admit-withdrawal';
import { followBridgeCompletions } from '../src/chain/follow-bridge-completions';
import { eip191Digest } from '../src/eip191-digest';
import { WithdrawalLedger } from '../src/ledger/withdrawal-ledger';
import { createOutboxSigner } from '../src/outbox-signer';
import { signRecoverable } from '../src/sign-recoverable';
import { signerKeyFromHex } from '../src/signer-key';
import { withdrawalMessageHash } from '../src/withdrawal-message-hash';
import vectors from './fixtures/withdrawal-message-id.json' with { type: 'json' };

const VALIDATOR_KEY = signerKeyFromHex(`0x${'51'.repeat(32)}`);
const SEQUENCER_SECRET = hexToBytes('61'.repeat(32))!;
const sequencer = new Wallet(`0x${'61'.repeat(32)}`);
const relayer = new Wallet(ANVIL_KEYS[1]);
const RECIPIENT = '0x00000000000000000000000000000000000a11ce';

let anvil: Anvil;
let chain: TestBridgeDeployment;

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployTestBridge({
    rpcUrl: anvil.url,
    threshold: 1,
    sequencers: [sequencer.address],
    validators: [VALIDATOR_KEY.address],
    initializers: [relayer.address],
  });
});
afterAll(async () => {
  chain?.provider.destroy();
  await anvil?.stop();
});

function openReplica(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  onCleanup(() => {
    if (db.open) db.close();
  });
  const state = openStateStore(db);
  return { db, state, ledger: new WithdrawalLedger(db) };
}

async function mine(blocks: number): Promise<void> {
  await chain.provider.send('anvil_mine', [`0x${blocks.toString(16)}`]);
}

describe('the test Bridge accepts what the bridge signer signs', { timeout: 120_000 }, () => {
  it('every request-id vector: signed under the sequencer id, executed, then followed to completion', async () => {
    const file = join(tempDir('bridge-anvil-'), 'replica.db');
    let replica = openReplica(file);
    // the replica: one withdrawal message per vector
    vectors.cases.forEach((v, i) => {
      replica.db.transaction(() => {
        admitWithdrawal({
          state: replica.state,
          ledger: replica.ledger,
          validators: [],
          sequence: BigInt(i),
          timestamp: 1_700_000_000n + BigInt(i),
          request: {
            requestId: v.request_id,
            recipient: RECIPIENT,
            amount: String(i + 1),
            data: new Uint8Array(),
          },
        });
        replica.state.recordApplied(BigInt(i), 1_700_000_000n + BigInt(i));
      })();
    });
    const { signed, failed } = createOutboxSigner({
      state: replica.state,
      key: VALIDATOR_KEY,
    }).signPending();
    const distinct = new Set(
      vectors.cases.flatMap((v) => (v.message_id === null ? [] : [v.message_id])),
    );
    expect({ signed, failed }).toEqual({ signed: distinct.size, failed: 0 });
    expect(replica.ledger.refused().map((w) => w.status)).toEqual(
      vectors.cases.filter((v) => v.message_id === null).map(() => 'unsignable'),
    );
    expect(replica.ledger.pendingCount()).toBe(distinct.size);

    // the follower starts before any execution, at the current block
    const start = BigInt(await chain.provider.getBlockNumber());
    const events: string[] = [];
    let follower = followBridgeCompletions({
      ledger: replica.ledger,
      rpcUrl: anvil.url,
      bridge: chain.addresses.bridge,
      chainId: anvil.chainId,
      confirmations: 2,
      startBlock: start,
      maxBlockRange: 3,
      onProgress: (e) => events.push(...e.completed),
    });

    // a relayer executes each distinct message id with the stored signature
    const bridge = chain.bridge.connect(relayer.connect(chain.provider)) as typeof chain.bridge;
    const done = new Set<string>();
    let paid = 0n;
    for (const [i, v] of vectors.cases.entries()) {
      if (v.message_id === null || done.has(v.message_id)) continue;
      done.add(v.message_id);
      const [w] = replica.ledger.find(v.request_id, null).filter((r) => r.sequence === BigInt(i));
      expect(w?.messageId).toBe(v.message_id);
      expect(w?.signature).toMatch(/^0x[0-9a-f]{130}$/);
      const id = hexToBytes(v.message_id.slice(2))!;
      const amount = BigInt(w!.amount);
      const hash = withdrawalMessageHash(id, RECIPIENT, new Uint8Array(), amount);
      const sequencerSignature = {
        signature: `0x${bytesToHex(signRecoverable(eip191Digest(hash), SEQUENCER_SECRET))}`,
        submittedAt: 0,
      };
      const receipt = await (
        await bridge.getFunction('initializeAndHandleMessage')(
          v.message_id,
          RECIPIENT,
          '0x',
          sequencerSignature,
          [w!.signature],
          amount,
        )
      ).wait();
      expect(receipt?.status, v.name).toBe(1);
      paid += amount;
      expect(await chain.bridge.getFunction('isMessageCompleted')(v.message_id)).toBe(true);
    }
    expect(await chain.provider.getBalance(RECIPIENT)).toBe(paid);

    // unconfirmed: the last 2 blocks are not recorded yet
    await follower.poll();
    const head = BigInt(await chain.provider.getBlockNumber());
    expect(replica.ledger.chainCursor()?.blockNumber).toBe(head - 2n);
    expect(replica.ledger.pendingCount()).toBe(2);
    expect(events).toHaveLength(distinct.size - 2);

    // restart: a new connection and follower resume after the stored cursor
    await follower.close();
    replica.db.close();
    replica = openReplica(file);
    expect(replica.ledger.pendingCount()).toBe(2);
    follower = followBridgeCompletions({
      ledger: replica.ledger,
      rpcUrl: anvil.url,
      bridge: chain.addresses.bridge,
      chainId: anvil.chainId,
      confirmations: 2,
      startBlock: 0n, // ignored: the cursor decides
      onProgress: (e) => events.push(...e.completed),
    });
    onCleanup(() => follower.close());
    await mine(2);
    expect((await follower.poll()).length).toBe(2);
    expect(replica.ledger.pendingCount()).toBe(0);
    expect(replica.ledger.pending()).toEqual([]);
    expect(new Set(events)).toEqual(distinct);
    expect(events).toHaveLength(distinct.size);
    const completed = replica.ledger.find(vectors.cases[0]!.request_id, null)[0]!.completed;
    expect(completed?.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    // nothing is recorded twice
    await mine(3);
    expect(await follower.poll()).toEqual([]);
  });

  it('refuses an RPC endpoint of another chain', async () => {
    const { ledger } = openReplica(join(tempDir('bridge-anvil-chain-'), 'replica.db'));
    const follower = followBridgeCompletions({
      ledger,
      rpcUrl: anvil.url,
      bridge: chain.addresses.bridge,
      chainId: 1n,
    });
    onCleanup(() => follower.close());
    await expect(follower.poll()).rejects.toMatchObject({ code: 'BRIDGE_CHAIN_CONFIG' });
    expect(ledger.chainCursor()).toBeNull();
  });
});
