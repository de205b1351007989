import { existsSync } from 'node:fs';
import { LtHash16, stateRootOfDatabase } from '@synddb/applier';
import { bytesToHex } from '@synddb/protocol';
import Database from 'better-sqlite3';

/** What `state-root` needs from the process (injectable for tests). */
export interface StateRootCommandProcess {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const STATE_ROOT_USAGE = `Usage: synddb-validator state-root --database PATH

Computes the state root of a replica file from scratch (every row of every table but the
validator's _synddb_* and SQLite's sqlite_* tables; O(database)) and prints one JSON line:
  {"sequence": <the replica's last applied sequence, or null>,
   "stateRoot": "0x<64 hex>",
   "storedStateRoot": "0x<64 hex>" | null}
storedStateRoot is the root the validator maintained incrementally (null when it keeps none, or
when it was stored for another sequence); the two must be equal. The file is opened read-only
and read in one transaction, so a running validator may keep writing it.
--database defaults to DATABASE_PATH. Exit codes: 0 printed, 1 cannot read, 2 bad usage.
`;

/**
 * `synddb-validator state-root --database PATH`: the from-scratch state root of a replica, to
 * cross-check what validators attest (`stateRootOfDatabase` of @synddb/applier).
 */
export function runStateRootCommand(
  args: readonly string[],
  proc: StateRootCommandProcess,
): number {
  let database: string | undefined = proc.env.DATABASE_PATH || undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      proc.stdout(STATE_ROOT_USAGE);
      return 0;
    }
    if (arg === '--database' && i + 1 < args.length) database = args[++i];
    else if (arg.startsWith('--database=')) database = arg.slice('--database='.length);
    else {
      proc.stderr(
        `synddb-validator state-root: unexpected argument ${JSON.stringify(arg)}\n\n${STATE_ROOT_USAGE}`,
      );
      return 2;
    }
  }
  if (database === undefined || database === '' || database === ':memory:') {
    proc.stderr(`synddb-validator state-root: --database PATH is required\n\n${STATE_ROOT_USAGE}`);
    return 2;
  }
  if (!existsSync(database)) {
    proc.stderr(`synddb-validator state-root: no such file: ${database}\n`);
    return 1;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(database, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const result = readRoots(db);
    proc.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    proc.stderr(
      `synddb-validator state-root: cannot read ${database}: ${(error as Error).message}\n`,
    );
    return 1;
  } finally {
    db?.close();
  }
}

function readRoots(db: Database.Database): {
  sequence: number | string | null;
  stateRoot: string;
  storedStateRoot: string | null;
} {
  const hasTable = (name: string) =>
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !==
    undefined;
  db.exec('BEGIN');
  try {
    const sequence = hasTable('_synddb_cursor')
      ? ((db
          .prepare('SELECT last_sequence FROM _synddb_cursor WHERE id = 1')
          .pluck()
          .safeIntegers(true)
          .get() as bigint | undefined) ?? null)
      : null;
    const stored = hasTable('_synddb_state_root')
      ? (db
          .prepare('SELECT sequence, lthash FROM _synddb_state_root WHERE id = 1')
          .safeIntegers(true)
          .get() as { sequence: bigint; lthash: Buffer } | undefined)
      : undefined;
    const root = stateRootOfDatabase(db);
    const storedRoot =
      stored !== undefined && stored.sequence === sequence
        ? LtHash16.fromBytes(new Uint8Array(stored.lthash)).digest()
        : null;
    return {
      sequence:
        sequence === null
          ? null
          : sequence <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(sequence)
            : sequence.toString(),
      stateRoot: `0x${bytesToHex(root)}`,
      storedStateRoot: storedRoot === null ? null : `0x${bytesToHex(storedRoot)}`,
    };
  } finally {
    db.exec('COMMIT');
  }
}
