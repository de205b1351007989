import { DatabaseSync } from 'node:sqlite';

export interface TableDump {
  name: string;
  sql: string;
  rows: unknown[];
}

/**
 * Every application table of a SQLite file (not `sqlite_*`, not the validator's `_synddb_*`),
 * with its schema and all rows in a total order, integers read as BigInt. Read-only through
 * node:sqlite: the test process never opens these files with a second SQLite library.
 */
export function dumpDatabase(path: string): TableDump[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db
      .prepare(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_synddb\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string; sql: string }[];
    return tables.map(({ name, sql }) => {
      const quoted = `"${name.replaceAll('"', '""')}"`;
      const columns = (
        db.prepare(`SELECT count(*) AS n FROM pragma_table_info(?)`).get(name) as {
          n: number;
        }
      ).n;
      const order = Array.from({ length: columns }, (_, i) => String(i + 1)).join(', ');
      const statement = db.prepare(`SELECT * FROM ${quoted} ORDER BY ${order}`);
      statement.setReadBigInts(true);
      return { name, sql, rows: statement.all() };
    });
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` of a file: 'ok' when sound. */
export function integrityCheck(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** One value of a read-only query on a file. */
export function queryOne<T>(path: string, sql: string): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}
