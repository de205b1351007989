/**
 * Signature collection reads every validator's signature API in parallel, bounded by a timeout,
 * and keeps only signatures the Bridge would accept from a current Validator key: a validator
 * that is down, slow, serving garbage, a high-S or v=0 signature, another message's signature or
 * an unregistered key loses only its own result.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from '@synddb/test-support';
import { type BaseWallet, getBytes, hexlify, randomBytes, Signature, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { checkValidatorSignature } from './check-validator-signature';
import { collectValidatorSignatures } from './collect-signatures';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

async function serve(
  handler: (path: string) => { status: number; body: string } | 'hang',
): Promise<string> {
  const server: Server = createServer((req, res) => {
    const answer = handler(req.url ?? '');
    if (answer === 'hang') return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function sign(wallet: BaseWallet, id: string): string {
  return wallet.signMessageSync(getBytes(id));
}

describe('checkValidatorSignature', () => {
  const id = hexlify(randomBytes(32));
  const key = Wallet.createRandom();
  const keys = new Set([key.address.toLowerCase()]);
  it('accepts a current key and rejects what the Bridge would reject', () => {
    const good = sign(key, id);
    expect(checkValidatorSignature(id, good, keys)).toEqual({
      ok: true,
      signer: key.address.toLowerCase(),
    });
    const sig = Signature.from(good);
    const highS = `0x${sig.r.slice(2)}${(N - BigInt(sig.s)).toString(16).padStart(64, '0')}${(sig.v === 27 ? 28 : 27).toString(16)}`;
    expect(checkValidatorSignature(id, highS, keys)).toMatchObject({
      ok: false,
      reason: 'unrecoverable',
    });
    const v0 = `${good.slice(0, 130)}00`;
    expect(checkValidatorSignature(id, v0, keys)).toMatchObject({
      ok: false,
      reason: 'unrecoverable',
    });
    expect(checkValidatorSignature(id, good.slice(0, 128), keys)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    const stranger = sign(Wallet.createRandom(), id);
    expect(checkValidatorSignature(id, stranger, keys)).toMatchObject({
      ok: false,
      reason: 'unregistered_signer',
    });
    expect(checkValidatorSignature(id, good, keys, Wallet.createRandom().address)).toMatchObject({
      ok: false,
      reason: 'signer_mismatch',
    });
  });
});

describe('collectValidatorSignatures', () => {
  it('keeps one checked signature per current key and reports every validator', async () => {
    const id = hexlify(randomBytes(32));
    const [a, b, c] = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
    const stranger = Wallet.createRandom();
    const keys = new Set([a, b, c].map((w) => w.address.toLowerCase()));
    const json = (w: BaseWallet, sigId = id) =>
      JSON.stringify({
        message_id: sigId,
        signature: sign(w, sigId),
        signer: w.address.toLowerCase(),
        signed_at: 1,
      });
    const good = await serve(() => ({ status: 200, body: json(a) }));
    const goodAgain = await serve(() => ({ status: 200, body: json(a) }));
    const planRoute = await serve((path) =>
      path.startsWith('/signatures/withdrawal/')
        ? { status: 200, body: json(b) }
        : { status: 404, body: '{"error":"not found"}' },
    );
    const missing = await serve(() => ({ status: 404, body: 'null' }));
    const unregistered = await serve(() => ({ status: 200, body: json(stranger) }));
    const otherMessage = await serve(() => ({
      status: 200,
      body: json(c, hexlify(randomBytes(32))),
    }));
    const garbage = await serve(() => ({ status: 200, body: '{"signature":1}' }));
    const slow = await serve(() => 'hang');
    const down = 'http://127.0.0.1:1';
    const result = await collectValidatorSignatures({
      validators: [
        good,
        goodAgain,
        planRoute,
        missing,
        unregistered,
        otherMessage,
        garbage,
        slow,
        down,
      ],
      messageId: id,
      validKeys: keys,
      // generous: under load a sound validator's first answer took over 300 ms (CI failure);
      // only the hanging one and the closed port may end as errors
      timeoutMs: 3_000,
    });
    expect(result.signatures.map((s) => s.signer)).toEqual(
      [a, b].map((w) => w.address.toLowerCase()),
    );
    expect(result.results.map((r) => (r.status === 'rejected' ? r.reason : r.status))).toEqual([
      'ok',
      'duplicate_signer',
      'ok',
      'missing',
      'unregistered_signer',
      'malformed',
      'error',
      'error',
      'error',
    ]);
    const timedOut = result.results[7]!;
    expect(timedOut.status === 'error' && timedOut.detail).toMatch(/timed out/);
  }, 30_000);
});
