import { join } from 'node:path';
import { bytesToHex, hexToBytes, keccak256Js } from '@synddb/protocol';
import { openStateStore } from '@synddb/state-store';
import { tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { verifyTypedData } from 'ethers';
import { describe, expect, it } from 'vitest';
import { signerKeyFromHex } from '../signer-key';
import { stateAttestationOutboxEntry, toStateAttestationJson } from './state-attestation-outbox';
import { createStateAttestationSigner } from './state-attestation-signer';
import {
  loadStateAttestationHasher,
  type StateAttestationDomain,
  stateAttestationTypedData,
} from './state-attestation-typed-data';

const ANVIL0 = signerKeyFromHex('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const bytes = (hex: string) => hexToBytes(hex)!;

/**
 * Golden vectors, computed independently of ethers: EIP-712 by hand with the pure-JS keccak
 * (domain separator over name "SyndDBStateAttestation", version "1", chainId, verifyingContract;
 * struct hash of StateAttestation(uint64 sequence,bytes32 stateRoot,bytes32 messageHash)).
 */
const VECTORS = [
  {
    domain: { chainId: 1n, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
    attestation: {
      sequence: 42n,
      stateRoot: bytes('11'.repeat(32)),
      // V1's message_hash (docs/protocol.md): keccak256 of the signed payload
      messageHash: bytes('1e6a4ce80f568cd1a74064bd16a533cbe795bbe0b12e03e47c1f3870779156ad'),
    },
    digest: '409238b9f93928fecafe4bef2bb25a671232daaa324e6725c5e0d78183c8ed56',
  },
  {
    domain: { chainId: 31337n, verifyingContract: `0x${'0'.repeat(40)}` },
    attestation: { sequence: 0n, stateRoot: new Uint8Array(32), messageHash: new Uint8Array(32) },
    digest: 'f2d28ccf107c89844ffa9f7e8d926d4193f5246d6971684aaae13426c41576ab',
  },
  {
    domain: { chainId: 2n ** 64n - 1n, verifyingContract: `0x${'f'.repeat(40)}` },
    attestation: {
      sequence: 2n ** 64n - 1n,
      stateRoot: bytes('ff'.repeat(32)),
      messageHash: bytes('ab'.repeat(32)),
    },
    digest: '3be65ea193c1cb15ca56fcd396849e8870e6c08a7a3cbe586978b82610998ce5',
  },
];

function byHand(
  domain: StateAttestationDomain,
  a: (typeof VECTORS)[number]['attestation'],
): string {
  const enc = (s: string) => new TextEncoder().encode(s);
  const word = (n: bigint) => bytes(n.toString(16).padStart(64, '0'));
  const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
  const domainType = keccak256Js(
    enc('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
  );
  const separator = keccak256Js(
    cat(
      domainType,
      keccak256Js(enc('SyndDBStateAttestation')),
      keccak256Js(enc('1')),
      word(domain.chainId),
      word(BigInt(domain.verifyingContract)),
    ),
  );
  const type = keccak256Js(
    enc('StateAttestation(uint64 sequence,bytes32 stateRoot,bytes32 messageHash)'),
  );
  const struct = keccak256Js(cat(type, word(a.sequence), a.stateRoot, a.messageHash));
  return bytesToHex(keccak256Js(cat(new Uint8Array([0x19, 0x01]), separator, struct)));
}

describe('state attestations (EIP-712)', () => {
  it('digests match the golden vectors, computed by hand and with ethers', async () => {
    const hasher = await loadStateAttestationHasher();
    for (const v of VECTORS) {
      expect(byHand(v.domain, v.attestation)).toBe(v.digest);
      expect(bytesToHex(hasher.digest(v.domain, v.attestation))).toBe(v.digest);
    }
  });

  it('binds chain id, Bridge address, sequence, root and message hash', async () => {
    const hasher = await loadStateAttestationHasher();
    const { domain, attestation } = VECTORS[0]!;
    const base = bytesToHex(hasher.digest(domain, attestation));
    const changed = [
      hasher.digest({ ...domain, chainId: 2n }, attestation),
      hasher.digest({ ...domain, verifyingContract: `0x${'1'.repeat(40)}` }, attestation),
      hasher.digest(domain, { ...attestation, sequence: 43n }),
      hasher.digest(domain, { ...attestation, stateRoot: bytes('12'.repeat(32)) }),
      hasher.digest(domain, { ...attestation, messageHash: new Uint8Array(32) }),
    ].map(bytesToHex);
    expect(new Set([base, ...changed]).size).toBe(6);
    expect(() => hasher.digest(domain, { ...attestation, sequence: 2n ** 64n })).toThrow(/u64/);
    expect(() => hasher.digest(domain, { ...attestation, stateRoot: new Uint8Array(31) })).toThrow(
      /32 bytes/,
    );
  });

  it('signs queued attestations after commit, persisted and recoverable to the signer', async () => {
    const path = join(tempDir('synddb-state-attestation-'), 'replica.db');
    let db = new Database(path);
    let state = openStateStore(db);
    const { domain, attestation } = VECTORS[0]!;
    db.transaction(() => {
      state.enqueue(stateAttestationOutboxEntry(attestation));
      state.enqueue(stateAttestationOutboxEntry({ ...attestation, sequence: 50n }));
      // one per sequence
      expect(state.enqueue(stateAttestationOutboxEntry(attestation))).toBe(false);
    })();
    const signer = await createStateAttestationSigner({ state, key: ANVIL0, domain });
    expect(signer.signPending()).toEqual({ signed: 2, failed: 0 });
    expect(signer.signPending()).toEqual({ signed: 0, failed: 0 });
    db.close();

    // after a restart the signature is still there, and recovers to the key
    db = new Database(path);
    state = openStateStore(db);
    const [entry] = state.signedAt(42n, 'state_attestation');
    const json = toStateAttestationJson(entry!);
    expect(json).toMatchObject({
      sequence: '42',
      state_root: `0x${'11'.repeat(32)}`,
      message_hash: '0x1e6a4ce80f568cd1a74064bd16a533cbe795bbe0b12e03e47c1f3870779156ad',
      signer: ANVIL0.address.toLowerCase(),
    });
    const typed = stateAttestationTypedData(domain, attestation);
    const recovered = verifyTypedData(
      typed.domain,
      { StateAttestation: [...typed.types.StateAttestation] },
      typed.value,
      json!.signature,
    );
    expect(recovered).toBe(ANVIL0.address);
    expect(state.signedAt(43n, 'state_attestation')).toEqual([]);
    expect(state.signedAt(42n, 'withdrawal')).toEqual([]);
    db.close();
  });

  it('records a malformed entry as failed and keeps signing the others', async () => {
    const db = new Database(':memory:');
    const state = openStateStore(db);
    db.transaction(() => {
      state.enqueue({
        messageId: 'state:1',
        sequence: 1n,
        kind: 'state_attestation',
        body: new Uint8Array([1]),
      });
      state.enqueue(stateAttestationOutboxEntry({ ...VECTORS[1]!.attestation, sequence: 2n }));
    })();
    const errors: string[] = [];
    const signer = await createStateAttestationSigner({
      state,
      key: ANVIL0,
      domain: VECTORS[1]!.domain,
      batchSize: 1,
      onError: (e) => errors.push(e.error.message),
    });
    expect(signer.signPending()).toEqual({ signed: 1, failed: 1 });
    expect(errors[0]).toMatch(/not JSON/);
    expect(state.outboxEntry('state:1')?.error).toMatch(/not JSON/);
    db.close();
  });
});
