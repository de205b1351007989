import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InterfaceAbi } from 'ethers';

const require = createRequire(import.meta.url);
const contractsDir = join(dirname(fileURLToPath(import.meta.url)), '../contracts');
// Compiling takes a few seconds of solc-js (WebAssembly); the output is kept per source hash.
const cacheDir = join(dirname(fileURLToPath(import.meta.url)), '../node_modules/.cache/solc');

export interface CompiledContract {
  abi: InterfaceAbi;
  bytecode: string;
}

export type ContractName = 'TestTeeKeyManager' | 'TestBridge' | 'ValidatorSignatureThresholdModule';

export type CompiledContracts = Record<ContractName, CompiledContract>;

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<
    string,
    Record<string, { abi: InterfaceAbi; evm: { bytecode: { object: string } } }>
  >;
}

let compiled: CompiledContracts | undefined;

/** Compiles contracts/*.sol with solc-js (cached on disk by source hash and compiler version). */
export function compileTestContracts(): CompiledContracts {
  if (compiled !== undefined) return compiled;
  const solc = require('solc') as { compile(input: string): string; version(): string };
  const files = readdirSync(contractsDir)
    .filter((f) => f.endsWith('.sol'))
    .sort();
  const sources = Object.fromEntries(
    files.map((f) => [f, { content: readFileSync(join(contractsDir, f), 'utf8') }]),
  );
  const input = JSON.stringify({
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  });
  const key = createHash('sha256').update(solc.version()).update(input).digest('hex').slice(0, 16);
  const cached = join(cacheDir, `${key}.json`);
  let output: SolcOutput;
  try {
    output = JSON.parse(readFileSync(cached, 'utf8')) as SolcOutput;
  } catch {
    output = JSON.parse(solc.compile(input)) as SolcOutput;
    const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
    if (errors.length > 0) {
      throw new Error(`solc: ${errors.map((e) => e.formattedMessage).join('\n')}`);
    }
    mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cached}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(output));
    renameSync(temporary, cached);
  }
  const pick = (file: string, name: ContractName): CompiledContract => {
    const contract = output.contracts[file]?.[name];
    if (contract === undefined) throw new Error(`solc output has no ${file}:${name}`);
    return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  };
  compiled = {
    TestTeeKeyManager: pick('TestTeeKeyManager.sol', 'TestTeeKeyManager'),
    TestBridge: pick('TestBridge.sol', 'TestBridge'),
    ValidatorSignatureThresholdModule: pick('TestBridge.sol', 'ValidatorSignatureThresholdModule'),
  };
  return compiled;
}
