import { formatConfigTable as configTable, formatHelp as helpText } from '@synddb/app-kit';
import { listOptions } from './parse-config';

/** `--help` text, generated from the schema's descriptions. */
export function formatHelp(version: string): string {
  return helpText(
    [
      `synddb-relayer ${version}`,
      'Collects SyndDB validator signatures for withdrawals and submits them to the Bridge once the',
      'on-chain threshold is met, each exactly once, as durable jobs; registers TEE keys. Serves',
      '/health, /ready, /metrics, /submit-withdrawal, /register-key and /withdrawals.',
      '',
      'Usage: synddb-relayer [options]',
      '',
      'Every option can also be set with its environment variable; a flag overrides the variable.',
      'Switches take an optional value (--log-json, --log-json=false). --rpc-url and --validator-url',
      'may be repeated. Durations: 500ms, 1s, 5m, 1h 30m. Sizes: bytes, or 64KiB, 1MiB.',
    ],
    listOptions(),
  );
}

/** The README's configuration table (between the config-table markers). */
export function formatConfigTable(): string {
  return configTable(listOptions());
}
