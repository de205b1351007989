import { createHash, type Hash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';

export interface TableDigest {
  name: string;
  /** Column names in declaration order. */
  columns: string[];
  rowCount: number;
  /** SHA-256 hex over the column names and every row in primary-key order. */
  digest: string;
}

export interface DatabaseDigest {
  /** SHA-256 hex over every included table's name, row count and digest, by table name. */
  digest: string;
  tables: TableDigest[];
}

export interface DigestDatabaseOptions {
  /**
   * Tables to leave out, besides SQLite's own `sqlite_*`. Default: the validator's reserved
   * `_synddb_*` tables, so a replica and its source compare equal.
   */
  exclude?: (tableName: string) => boolean;
}

const defaultExclude = (name: string): boolean => name.startsWith('_synddb_');

/**
 * A deterministic content digest of a SQLite database: every user table, rows ordered by primary
 * key (by every column for tables without one), values hashed with their storage class so that
 * `1`, `1.0`, `'1'` and `x'31'` differ. Integers are read as 64-bit exactly. Two databases with the
 * same digest hold the same rows; the per-table digests say which table differs.
 *
 * `source` is a path (opened read-only) or an open `DatabaseSync`.
 */
export function digestDatabase(
  source: string | DatabaseSync,
  options: DigestDatabaseOptions = {},
): DatabaseDigest {
  const exclude = options.exclude ?? defaultExclude;
  const db = typeof source === 'string' ? new DatabaseSync(source, { readOnly: true }) : source;
  try {
    const names = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .all() as { name: string }[]
    )
      .map((r) => r.name)
      .filter((name) => !exclude(name));
    const tables = names.map((name) => digestTable(db, name));
    const overall = createHash('sha256');
    for (const t of tables) {
      writeText(overall, t.name);
      writeText(overall, String(t.rowCount));
      writeText(overall, t.digest);
    }
    return { digest: overall.digest('hex'), tables };
  } finally {
    if (typeof source === 'string') db.close();
  }
}

function digestTable(db: DatabaseSync, name: string): TableDigest {
  // Number(): a connection opened with readBigInts returns the pk position as a bigint.
  const info = (
    db.prepare('SELECT name, pk FROM pragma_table_info(?) ORDER BY cid').all(name) as {
      name: string;
      pk: number | bigint;
    }[]
  ).map((c) => ({ name: c.name, pk: Number(c.pk) }));
  const columns = info.map((c) => c.name);
  const keyColumns = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  const order = (keyColumns.length > 0 ? keyColumns : info).map((c) => quoteIdentifier(c.name));
  const select = db.prepare(
    `SELECT ${columns.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(name)} ORDER BY ${order.join(', ')}`,
  );
  select.setReadBigInts(true);
  select.setReturnArrays(true);

  const hash = createHash('sha256');
  writeText(hash, name);
  for (const column of columns) writeText(hash, column);
  let rowCount = 0;
  for (const row of select.iterate() as IterableIterator<unknown[]>) {
    rowCount += 1;
    hash.update(ROW_MARK);
    for (const value of row) writeValue(hash, value);
  }
  return { name, columns, rowCount, digest: hash.digest('hex') };
}

const ROW_MARK = Uint8Array.of(0xff);

function writeValue(hash: Hash, value: unknown): void {
  if (value === null) {
    hash.update(Uint8Array.of(0));
  } else if (typeof value === 'bigint') {
    const b = Buffer.alloc(9);
    b[0] = 1;
    b.writeBigInt64BE(value, 1);
    hash.update(b);
  } else if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 2;
    b.writeDoubleBE(value, 1);
    hash.update(b);
  } else if (typeof value === 'string') {
    hash.update(Uint8Array.of(3));
    writeText(hash, value);
  } else if (value instanceof Uint8Array) {
    const head = Buffer.alloc(5);
    head[0] = 4;
    head.writeUInt32BE(value.length, 1);
    hash.update(head);
    hash.update(value);
  } else {
    throw new TypeError(`unexpected SQLite value ${String(value)}`);
  }
}

/** Length-prefixed UTF-8, so that concatenations cannot collide. */
function writeText(hash: Hash, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(bytes.length);
  hash.update(head);
  hash.update(bytes);
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
