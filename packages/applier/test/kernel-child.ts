// Run by state-root-kernel.test.ts in its own process with SYNDDB_STATE_ROOT_KERNEL set: prints
// the kernel that process uses and a root computed with it (one JSON line).
import { LtHash16, stateRootKernel } from '../src/index';

const hash = new LtHash16();
for (let i = 0; i < 300; i++) {
  hash.add(new Uint8Array(i * 7).fill(i & 0xff));
  if (i % 5 === 0) hash.remove(new Uint8Array([i, i >> 8]));
}
const { kernel } = stateRootKernel();
console.log(JSON.stringify({ kernel, root: Buffer.from(hash.digest()).toString('hex') }));
