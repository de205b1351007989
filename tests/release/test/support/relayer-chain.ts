// The chain side of the relayer's release test: anvil and this repo's test Bridge, imported from
// tests/contracts' sources (a relative import: @synddb/test-contracts is not a dependency of the
// release tests, and its sources are what the relayer's own tests use too).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes';

export {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  startAnvil,
  type TestBridgeDeployment,
} from '../../../contracts/src/index';

export const RELAYER_BIN = join(ROOT, 'apps/relayer/dist/cli.js');

/**
 * The relayer is not a dependency of the release tests (so turbo may not have built it before
 * this file runs): build it once if its dist is missing.
 */
export function ensureRelayerBuilt(): void {
  if (existsSync(RELAYER_BIN)) return;
  execFileSync('pnpm', ['--filter', 'synddb-relayer', 'build'], { cwd: ROOT, stdio: 'ignore' });
}
