// Verifier throughput on the built package (run `pnpm bench`, which builds first).
// 1. raw ECDSA verifications/s: native libsecp256k1 vs @noble/curves, on the same inputs;
// 2. verifyBatch messages/s: single thread vs the worker pool, per backend, for 50-message
//    batches (the sequencer's default flush size) and one 2,000-message batch.
import { availableParallelism } from 'node:os';
import { messageSigningDigest } from '@synddb/protocol';
import {
  createNativeBackend,
  createNobleBackend,
  createSequencerSigner,
  createVerifierPool,
  verifyBatch,
} from '@synddb/verifier';

const MESSAGES = 2000;
const PAYLOAD_BYTES = 200;
const signer = createSequencerSigner(
  'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
);

const messages = Array.from({ length: MESSAGES }, (_, i) =>
  signer.signMessage({
    sequence: BigInt(i),
    timestamp: 1_700_000_000n + BigInt(i),
    messageType: 0,
    payload: crypto.getRandomValues(new Uint8Array(PAYLOAD_BYTES)),
  }),
);
const checks = messages.map((raw) => {
  // Re-derive digest and signature from the COSE bytes, as verification does.
  const protectedBytes = raw.subarray(3, 3 + raw[2]);
  const signature = raw.subarray(raw.length - 64);
  const payloadEnd = raw.length - 66;
  const payloadStart = payloadEnd - PAYLOAD_BYTES;
  return {
    signature,
    digest: messageSigningDigest(protectedBytes, raw.subarray(payloadStart, payloadEnd)),
  };
});

function measure(fn, minMillis = 1500) {
  fn(); // warm-up (JIT, lazy precomputation tables)
  let operations = 0;
  const start = performance.now();
  while (performance.now() - start < minMillis) operations += fn();
  return operations / ((performance.now() - start) / 1000);
}
async function measureAsync(fn, minMillis = 1500) {
  await fn();
  let operations = 0;
  const start = performance.now();
  while (performance.now() - start < minMillis) operations += await fn();
  return operations / ((performance.now() - start) / 1000);
}
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(9);

const native = createNativeBackend();
const noble = createNobleBackend();
for (const c of checks) {
  if (
    !native.verify(c.signature, c.digest, signer.pubkey) ||
    !noble.verify(c.signature, c.digest, signer.pubkey)
  ) {
    throw new Error('benchmark inputs do not verify');
  }
}

console.log(
  `@synddb/verifier benchmark — ${MESSAGES} messages, ${PAYLOAD_BYTES}-byte payloads, ${availableParallelism()} cores`,
);
console.log('\n1. ECDSA verify (keccak digests computed beforehand, key bound once)');
const rates = {};
for (const backend of [native, noble]) {
  const bound = backend.bindPublicKey(signer.pubkey);
  rates[backend.name] = measure(() => {
    for (const c of checks) bound.verify(c.signature, c.digest);
    return checks.length;
  });
  console.log(`   ${backend.name.padEnd(6)} ${fmt(rates[backend.name])} verifications/s`);
}
const unbound = measure(() => {
  for (const c of checks) noble.verify(c.signature, c.digest, signer.pubkey);
  return checks.length;
});
console.log(`   noble, key not bound (no precomputed table) ${fmt(unbound)} verifications/s`);
console.log(`   ratio native/noble: ${(rates.native / rates.noble).toFixed(1)}x (bound keys)`);

const batchesOf50 = [];
for (let i = 0; i < MESSAGES; i += 50)
  batchesOf50.push(signer.signBatch(messages.slice(i, i + 50), { createdAt: 0 }));
const oneBig = signer.signBatch(messages, { createdAt: 0 });

const poolSize = Math.max(1, availableParallelism());
console.log(
  `\n2. verifyBatch, messages/s (content hash, batch signature, COSE decode + keccak + ECDSA per message)`,
);
const workloads = [
  ['50-message batches', batchesOf50],
  ['one 2,000-message batch', [oneBig]],
];
// rows[workload][mode][backend] = messages/s
const rows = workloads.map(() => ({ single: {}, pool: {} }));
for (const backend of [native, noble]) {
  const pool = createVerifierPool({ size: poolSize, backend: backend.name });
  for (const [w, [, batches]] of workloads.entries()) {
    rows[w].single[backend.name] = measure(() => {
      for (const b of batches) verifyBatch(b, { expectedPubkey: signer.pubkey, backend });
      return MESSAGES;
    });
    rows[w].pool[backend.name] = await measureAsync(async () => {
      // Batches are verified one after another, as the sync pipeline does.
      for (const b of batches)
        await verifyBatch(b, { expectedPubkey: signer.pubkey, backend, pool });
      return MESSAGES;
    });
  }
  await pool.close();
}
const poolLabel = `pool(${poolSize} workers)`;
console.log(
  `   ${'workload'.padEnd(24)} ${'mode'.padEnd(18)} ${'native'.padStart(9)} ${'noble'.padStart(9)}  native/noble`,
);
for (const [w, [label]] of workloads.entries()) {
  for (const [mode, name] of [
    ['single', 'single thread'],
    ['pool', poolLabel],
  ]) {
    const r = rows[w][mode];
    console.log(
      `   ${label.padEnd(24)} ${name.padEnd(18)} ${fmt(r.native)} ${fmt(r.noble)}  ${(r.native / r.noble).toFixed(1)}x`,
    );
  }
}
console.log('   pool / single thread:');
for (const [w, [label]] of workloads.entries()) {
  const r = rows[w];
  console.log(
    `   ${label.padEnd(24)} native ${(r.pool.native / r.single.native).toFixed(2)}x, noble ${(r.pool.noble / r.single.noble).toFixed(2)}x`,
  );
}
