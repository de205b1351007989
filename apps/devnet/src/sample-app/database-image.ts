import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/**
 * The bytes of a consistent, self-contained copy of the database (a SQLite format 3 file), as a
 * snapshot payload carries it. `VACUUM INTO` writes the copy to a temp file (the Rust client uses
 * the backup API the same way); the file is read and removed.
 */
export function readDatabaseImage(db: DatabaseSync): Uint8Array {
  const directory = mkdtempSync(join(tmpdir(), 'synddb-snapshot-'));
  try {
    const path = join(directory, 'snapshot.db');
    db.exec(`VACUUM INTO '${path.replaceAll("'", "''")}'`);
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
