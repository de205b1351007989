// The chain side of the relayer's release test: anvil and this repo's test Bridge
// (@synddb/test-contracts), and the built relayer binary (synddb-relayer is a devDependency of the
// release tests, so turbo builds it before they run).
import { join } from 'node:path';
import { ROOT } from './processes';

export {
  ANVIL_KEYS,
  type Anvil,
  bridgeSignerValidatorArgs,
  startTestChain,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';

export const RELAYER_BIN = join(ROOT, 'apps/relayer/dist/cli.js');
