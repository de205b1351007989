import { formatConfigTable as configTable, formatHelp as helpText } from '@synddb/app-kit';
import { listOptions } from './parse-config';

/** `--help` text, generated from the schema's descriptions. */
export function formatHelp(version: string): string {
  return helpText(
    [
      `synddb-validator ${version}`,
      'Pulls SyndDB sequencer batches, verifies every signature, applies them to a SQLite replica',
      'and serves /health, /ready, /status and /metrics.',
      '',
      'Usage: synddb-validator [options]',
      "       synddb-validator state-root --database PATH   (a replica's state root, from scratch)",
      '',
      'Every option can also be set with its environment variable; a flag overrides the variable.',
      'Switches take an optional value (--log-json, --log-json=false, --batch-sync-enabled false).',
      'Durations: 500ms, 1s, 5m, 1h 30m. Sizes: bytes, or 64MiB, 1GiB, 500MB.',
    ],
    listOptions(),
  );
}

/** The README's configuration table (between the config-table markers). */
export function formatConfigTable(): string {
  return configTable(listOptions());
}
