// Child process of catch-up.ts: a devnet sequencer holding a pre-sequenced workload, serving the
// storage API on loopback from its own process (as a real sequencer would be), so the measured
// process only runs the validator side.
//
// Input file: u32 count, then count entries of (u32 length, bytes); entry 0 is the snapshot
// image, the rest are changesets (one message each). Prints one JSON line {url, pubkey, head}.
import { readFileSync } from 'node:fs';
import { createDevnetSequencer } from '@synddb/devnet';

const KEY = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const file = process.argv[2];
if (file === undefined) throw new Error('usage: storage-server <workload file>');
const bytes = readFileSync(file);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const count = view.getUint32(0);
const entries: Uint8Array[] = [];
let offset = 4;
for (let i = 0; i < count; i++) {
  const length = view.getUint32(offset);
  entries.push(bytes.subarray(offset + 4, offset + 4 + length));
  offset += 4 + length;
}

const sequencer = createDevnetSequencer({
  privateKey: KEY,
  batchMaxMessages: 50,
  batchMaxBytes: 8 << 20,
  flushIntervalMs: 3_600_000,
});
const { url } = await sequencer.start({ port: 0 });
const [image, ...changesets] = entries;
if (image === undefined) throw new Error('empty workload');
sequencer.sequencer.submitSnapshot({
  snapshot: { data: image, timestamp: 0n, sequence: 0n },
  messageId: 'bench',
});
sequencer.flush();
changesets.forEach((data, i) => {
  sequencer.sequencer.submitChangesets({
    batchId: `b${i}`,
    changesets: [{ data, sequence: BigInt(i), timestamp: 0n }],
  });
});
sequencer.flush();
process.stdout.write(
  `${JSON.stringify({ url, pubkey: sequencer.pubkeyHex, head: String(sequencer.storage.latest()) })}\n`,
);
process.on('SIGTERM', () => {
  void sequencer.stop().then(() => process.exit(0));
});
