/**
 * Bridge signer mode end to end: the devnet sequencer and sample app, a validator with
 * BRIDGE_SIGNER=true; every sequenced withdrawal must be signed over the sequencer's message id,
 * served by the signature API, verifiable with an independent implementation (ethers), kept
 * across restarts with the same key, and signed after a crash that left it queued.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { getBytes, hashMessage, recoverAddress, Signature, SigningKey } from 'ethers';
import { describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

interface MessageSignature {
  message_id: string;
  signature: string;
  signer: string;
  signed_at: number;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

describe('bridge signer mode', { timeout: 60_000 }, () => {
  it('signs every withdrawal after it commits, serves the signatures, keeps them and its key across restarts', async () => {
    const dir = tempDir('validator-bridge-');
    const { sequencer, url, app } = await startDevnetWithApp({
      directory: dir,
      onCleanup,
      sequencer: { batchMaxMessages: 5 },
      idSeed: 11,
    });
    const alice = await app.openAccount('alice', 1_000n);
    const messageIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const receipt = await app.requestWithdrawal(
        alice,
        '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
        BigInt(10 + i),
      );
      messageIds.push(receipt.bridge_signature.message_id);
    }
    // a request id that already is a 32-byte hex id is used as the message id itself
    const hexId = `0x${'ab'.repeat(32)}`;
    const direct = await app.client.postWithdrawal({
      requestId: hexId,
      recipient: '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
      amount: '1',
      data: new Uint8Array(),
    });
    expect(direct.bridge_signature.message_id.toLowerCase()).toBe(hexId);
    messageIds.push(hexId);
    sequencer.flush();

    const databasePath = join(dir, 'replica', 'validator.db');
    const config = {
      sequencerUrl: url,
      sequencerPubkey: sequencer.pubkeyHex,
      databasePath,
      bindAddress: '127.0.0.1:0',
      bridgeSigner: true,
      bridgeChainId: 31337n,
      bridgeSignatureEndpoint: '127.0.0.1:0',
      syncInterval: '50ms',
      batchIndexRefreshInterval: '100ms',
      queryWorkers: 0,
    };
    const logLines: Record<string, unknown>[] = [];
    const logger = createLogger({
      json: true,
      level: 'debug',
      write: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>),
    });
    const start = async (): Promise<ValidatorHandle> => {
      const v = await startValidator(config, { logger });
      let stopped = false;
      onCleanup(async () => {
        if (!stopped) await v.stop();
      });
      const stop = v.stop.bind(v);
      v.stop = async () => {
        stopped = true;
        await stop();
      };
      return v;
    };

    const first = await start();
    expect(first.bridge).not.toBeNull();
    const api = first.bridge!.url;
    const address = first.bridge!.address;
    // the key file was created beside the replica, private to the owner, and the address logged
    const keyFile = join(dir, 'replica', 'bridge-signer.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(logLines.some((l) => l.address === address && String(l.msg).includes('register'))).toBe(
      true,
    );

    await waitFor(
      async () =>
        (await getJson<{ count: number }>(`${api}/pending`)).body.count === messageIds.length,
      'every withdrawal signed',
    );
    expect((await getJson(`${api}/health`)).body).toEqual({ status: 'healthy' });
    expect((await getJson(`${api}/info`)).body).toEqual({
      signer: address.toLowerCase(),
      bridge_contract: `0x${'0'.repeat(40)}`,
      chain_id: 31337,
    });
    const pending = await getJson<{ count: number; message_ids: string[] }>(`${api}/pending`);
    expect(pending.body.message_ids).toEqual(messageIds.map((id) => id.toLowerCase()));

    const signatures = (await getJson<MessageSignature[]>(`${api}/signatures`)).body;
    expect(signatures.map((s) => s.message_id)).toEqual(pending.body.message_ids);
    for (const id of messageIds) {
      for (const variant of [id, id.toUpperCase().replace('0X', '0x'), id.slice(2)]) {
        const { status, body } = await getJson<MessageSignature>(`${api}/signature/${variant}`);
        expect(status).toBe(200);
        expect(body.message_id).toBe(id.toLowerCase());
      }
      const { body } = await getJson<MessageSignature>(`${api}/signature/${id}`);
      // what the Bridge's signMessageWithSignature recovers: EIP-191 over the raw 32-byte id
      expect(recoverAddress(hashMessage(getBytes(id)), body.signature)).toBe(address);
      expect(body.signer).toBe(address.toLowerCase());
      const sig = Signature.from(body.signature);
      expect(BigInt(sig.s) <= SECP256K1_N / 2n).toBe(true);
      expect([27, 28]).toContain(getBytes(body.signature)[64]);
      expect(body.signed_at).toBeGreaterThan(1_700_000_000);
      expect(body.signed_at).toBeLessThan(Date.now() / 1000 + 5);
    }
    const missing = await fetch(`${api}/signature/0x${'cd'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('null');
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`^synddb_validator_withdrawals_signed_total ${messageIds.length}$`, 'm'),
    );
    await first.stop();

    // a crash between the commit and the signing leaves a withdrawal queued, unsigned
    const lost = messageIds[2]!.toLowerCase();
    const db = new Database(databasePath);
    db.prepare(
      'UPDATE _synddb_outbox SET signature = NULL, signer = NULL, signed_at = NULL WHERE message_id = ?',
    ).run(lost);
    const signedAt = db
      .prepare('SELECT message_id, signed_at FROM _synddb_outbox WHERE signed_at IS NOT NULL')
      .all();
    db.close();

    // restart: same key, the queued withdrawal is signed at startup, nothing else is re-signed
    const second = await start();
    expect(second.bridge!.address).toBe(address);
    const api2 = second.bridge!.url;
    const again = await getJson<MessageSignature>(`${api2}/signature/${lost}`);
    expect(again.status).toBe(200);
    expect(recoverAddress(hashMessage(getBytes(lost)), again.body.signature)).toBe(address);
    expect((await getJson<{ count: number }>(`${api2}/pending`)).body.count).toBe(
      messageIds.length,
    );

    // new withdrawals while running are signed after their commit
    const later = await app.requestWithdrawal(
      alice,
      '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
      5n,
    );
    sequencer.flush();
    const laterId = later.bridge_signature.message_id.toLowerCase();
    await waitFor(
      async () => (await fetch(`${api2}/signature/${laterId}`)).status === 200,
      'the new withdrawal signed',
    );
    await second.stop();
    const after = new Database(databasePath, { readonly: true });
    const unchanged = after
      .prepare(
        'SELECT message_id, signed_at FROM _synddb_outbox WHERE message_id IN (SELECT value FROM json_each(?))',
      )
      .all(JSON.stringify((signedAt as { message_id: string }[]).map((r) => r.message_id)));
    after.close();
    expect(unchanged).toEqual(signedAt);
  });

  it('refuses a key file that others can read, and a malformed key, with a clear startup error', async () => {
    const dir = tempDir('validator-bridge-key-');
    const keyFile = join(dir, 'open.key');
    writeFileSync(keyFile, `0x${'11'.repeat(32)}\n`, { mode: 0o644 });
    const base = {
      sequencerUrl: 'http://127.0.0.1:9',
      // a valid sequencer key that is never contacted (the startup fails before syncing)
      sequencerPubkey: new SigningKey(`0x${'22'.repeat(32)}`).publicKey.slice(4),
      databasePath: join(dir, 'replica.db'),
      bindAddress: '127.0.0.1:0',
      bridgeSigner: true,
      bridgeChainId: 31337n,
      bridgeSignatureEndpoint: '127.0.0.1:0',
      queryWorkers: 0,
    };
    const logger = createLogger({ json: true, write: () => {} });
    await expect(
      startValidator({ ...base, bridgeSignerKeyFile: keyFile }, { logger }),
    ).rejects.toThrow(/bridge signer key/);
    await expect(
      startValidator({ ...base, bridgeSignerKey: '0x1234' }, { logger }),
    ).rejects.toThrow(/bridge signer key/);
  });
});
