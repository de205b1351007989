import { join } from 'node:path';
import { bytesToHex, type WithdrawalRequest } from '@synddb/protocol';
import { openStateStore, type StateStore } from '@synddb/state-store';
import { onCleanup, tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { ethers } from 'ethers';
import { beforeEach, describe, expect, it } from 'vitest';
import { BridgeSignerInputError } from './errors';
import { createOutboxSigner, type OutboxErrorEvent, type OutboxSignedEvent } from './outbox-signer';
import { type BridgeSignerKey, signerKeyFromHex } from './signer-key';
import { toMessageSignature } from './to-message-signature';
import { WITHDRAWAL_OUTBOX_KIND, withdrawalOutboxEntry } from './withdrawal-outbox-entry';

const KEY = signerKeyFromHex(`0x${'42'.repeat(32)}`);
const NOW = 1_700_000_000_123;
let dir: string;
let dbFile: string;
let db: Database.Database;
let state: StateStore;

function request(i: number): WithdrawalRequest {
  return {
    requestId: `req-${i}`,
    recipient: '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
    amount: String(1000 + i),
    data: new Uint8Array([i, 0xff]),
  };
}

/** Applies "messages" the way the validator does: data, cursor and outbox in one transaction. */
function applyWithdrawals(from: number, count: number): string[] {
  const ids: string[] = [];
  for (let i = from; i < from + count; i++) {
    db.transaction(() => {
      db.prepare('INSERT INTO withdrawals (seq) VALUES (?)').run(i);
      state.recordApplied(BigInt(i), BigInt(i));
      const entry = withdrawalOutboxEntry({ sequence: BigInt(i), request: request(i) });
      expect(state.enqueue(entry)).toBe(true);
      ids.push(entry.messageId);
    })();
  }
  return ids;
}

/** Applies a message that queues something other than a well-formed withdrawal. */
function applyOther(sequence: number, kind: string, messageId: string): void {
  db.transaction(() => {
    state.recordApplied(BigInt(sequence), BigInt(sequence));
    state.enqueue({ messageId, sequence: BigInt(sequence), kind, body: new Uint8Array(0) });
  })();
}

beforeEach(() => {
  dir = tempDir('bridge-signer-outbox-');
  dbFile = join(dir, 'replica.db');
  db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE withdrawals (seq INTEGER PRIMARY KEY)');
  onCleanup(() => {
    if (db.open) db.close();
  });
  state = openStateStore(db, { now: () => NOW });
});

describe('withdrawalOutboxEntry', () => {
  it('uses the sequencer message id, kind withdrawal and a JSON audit body', () => {
    const entry = withdrawalOutboxEntry({
      sequence: 7n,
      request: {
        requestId: '0x1234',
        recipient: '0xabc',
        amount: '5',
        data: new Uint8Array([1, 2]),
      },
    });
    expect(entry.messageId).toBe(`0x${'0'.repeat(60)}1234`);
    expect(entry.sequence).toBe(7n);
    expect(entry.kind).toBe(WITHDRAWAL_OUTBOX_KIND);
    expect(entry.kind).toBe('withdrawal');
    expect(JSON.parse(new TextDecoder().decode(entry.body))).toEqual({
      request_id: '0x1234',
      recipient: '0xabc',
      amount: '5',
      data: '0x0102',
    });
    expect(withdrawalOutboxEntry({ sequence: 0n, request: request(1) }).messageId).toBe(
      ethers.id('req-1'),
    );
  });
});

describe('createOutboxSigner', () => {
  it('signs committed withdrawals, persists them across reopening, and is idempotent', () => {
    const ids = applyWithdrawals(0, 5);
    const signedEvents: OutboxSignedEvent[] = [];
    const signer = createOutboxSigner({ state, key: KEY, onSigned: (e) => signedEvents.push(e) });
    expect(signer.signPending()).toEqual({ signed: 5, failed: 0 });
    expect(signedEvents.map((e) => e.messageId)).toEqual(ids);
    expect(signedEvents.map((e) => e.sequence)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(signedEvents.every((e) => e.signer === KEY.address)).toBe(true);
    expect(signer.signPending()).toEqual({ signed: 0, failed: 0 });
    expect(signedEvents).toHaveLength(5);

    db.close();
    db = new Database(dbFile, { readonly: true });
    state = openStateStore(db);
    expect(state.unsigned()).toEqual([]);
    expect(state.signedCount()).toBe(5);
    for (const [i, id] of ids.entries()) {
      const entry = state.outboxEntry(id)!;
      expect(entry.signature).toMatch(/^0x[0-9a-f]{130}$/);
      expect(entry.signer).toBe(KEY.address);
      expect(entry.error).toBeNull();
      // What the Bridge's signMessageWithSignature would recover.
      expect(ethers.verifyMessage(ethers.getBytes(id), entry.signature!)).toBe(KEY.address);
      expect(toMessageSignature(entry)).toEqual({
        message_id: id,
        signature: entry.signature,
        signer: KEY.address.toLowerCase(),
        signed_at: 1_700_000_000,
      });
      expect(signedEvents[i]!.signature).toBe(entry.signature);
    }
  });

  it('signs nothing that has not committed', () => {
    expect(() =>
      db.transaction(() => {
        state.enqueue(withdrawalOutboxEntry({ sequence: 0n, request: request(0) }));
        throw new Error('apply failed');
      })(),
    ).toThrow('apply failed');
    expect(createOutboxSigner({ state, key: KEY }).signPending()).toEqual({ signed: 0, failed: 0 });
    expect(state.signedCount()).toBe(0);
  });

  it('leaves entries of other kinds alone, even when they fill whole batches', () => {
    for (let i = 0; i < 5; i++) {
      applyOther(i, 'state-root', `0x${bytesToHex(new Uint8Array(32).fill(i + 1))}`);
    }
    // The withdrawals sit beyond the first windows of 2, behind entries that are never signed.
    const ids = applyWithdrawals(5, 3);
    const signer = createOutboxSigner({ state, key: KEY, batchSize: 2 });
    expect(signer.signPending()).toEqual({ signed: 3, failed: 0 });
    for (const id of ids) expect(state.outboxEntry(id)!.signature).not.toBeNull();
    const others = state.unsigned(100);
    expect(others).toHaveLength(5);
    expect(
      others.every((e) => e.kind === 'state-root' && e.signature === null && e.error === null),
    ).toBe(true);
    expect(signer.signPending()).toEqual({ signed: 0, failed: 0 });
  });

  it('records failures of a bad key, keeps the entries unsigned and ends', () => {
    const ids = applyWithdrawals(0, 5);
    const garbage: BridgeSignerKey = {
      address: KEY.address,
      sign: () => new Uint8Array(65).fill(1),
    };
    const errors: OutboxErrorEvent[] = [];
    const signer = createOutboxSigner({
      state,
      key: garbage,
      batchSize: 2,
      onError: (e) => errors.push(e),
    });
    expect(signer.signPending()).toEqual({ signed: 0, failed: 5 });
    expect(errors.map((e) => e.messageId)).toEqual(ids);
    expect(errors[0]!.error.name).toBe('BridgeSignatureError');
    for (const id of ids) {
      const entry = state.outboxEntry(id)!;
      expect(entry.signature).toBeNull();
      expect(entry.error).toContain('Signature');
      expect(toMessageSignature(entry)).toBeNull();
    }
    // A second call tries again (once each), and a good key then clears the errors.
    expect(signer.signPending()).toEqual({ signed: 0, failed: 5 });
    expect(createOutboxSigner({ state, key: KEY }).signPending()).toEqual({ signed: 5, failed: 0 });
    for (const id of ids) expect(state.outboxEntry(id)!.error).toBeNull();
  });

  it('records a key that signs for another address or throws', () => {
    const ids = applyWithdrawals(0, 2);
    const other = signerKeyFromHex(`0x${'43'.repeat(32)}`);
    const impostor: BridgeSignerKey = { address: KEY.address, sign: (d) => other.sign(d) };
    expect(createOutboxSigner({ state, key: impostor }).signPending()).toEqual({
      signed: 0,
      failed: 2,
    });
    expect(state.outboxEntry(ids[0]!)!.error).toContain('does not recover to the signer address');
    const throwing: BridgeSignerKey = {
      address: KEY.address,
      sign: () => {
        throw 'hsm offline';
      },
    };
    const errors: OutboxErrorEvent[] = [];
    createOutboxSigner({ state, key: throwing, onError: (e) => errors.push(e) }).signPending();
    expect(errors[0]!.error).toBeInstanceOf(Error);
    expect(state.outboxEntry(ids[1]!)!.error).toBe('hsm offline');
  });

  it('records a withdrawal entry whose stored message id is malformed and signs the rest', () => {
    applyOther(0, 'withdrawal', 'req-0');
    applyOther(1, 'withdrawal', `0x${'AB'.repeat(32)}`);
    const ids = applyWithdrawals(2, 1);
    const result = createOutboxSigner({ state, key: KEY }).signPending();
    expect(result).toEqual({ signed: 1, failed: 2 });
    expect(state.outboxEntry('req-0')!.error).toContain('Outbox message id');
    expect(state.outboxEntry(ids[0]!)!.signature).not.toBeNull();
  });

  it('takes a long backlog in batches', () => {
    applyWithdrawals(0, 50);
    const signer = createOutboxSigner({ state, key: KEY, batchSize: 7 });
    expect(signer.signPending()).toEqual({ signed: 50, failed: 0 });
    expect(state.signedCount()).toBe(50);
  });

  it('rejects a batch size that is not a positive integer', () => {
    for (const batchSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => createOutboxSigner({ state, key: KEY, batchSize })).toThrow(
        BridgeSignerInputError,
      );
    }
  });
});

describe('toMessageSignature', () => {
  it('is null for unsigned entries and the Rust JSON shape for signed ones', () => {
    const [id] = applyWithdrawals(0, 1);
    expect(toMessageSignature(state.outboxEntry(id!)!)).toBeNull();
    createOutboxSigner({ state, key: KEY }).signPending();
    const json = toMessageSignature(state.outboxEntry(id!)!)!;
    expect(Object.keys(json)).toEqual(['message_id', 'signature', 'signer', 'signed_at']);
    expect(json.message_id).toMatch(/^0x[0-9a-f]{64}$/);
    expect(json.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(json.signer).toBe(KEY.address.toLowerCase());
    expect(json.signed_at).toBe(Math.floor(NOW / 1000));
  });
});
