import {
  applyChangeset,
  applyStateDelta,
  type ChangesetChange,
  changesetStateDelta,
  encodeChangeset,
  GroupUpdateResolver,
  LTHASH_LANES,
  LtHash16,
} from '@synddb/applier';
import Database from 'better-sqlite3';

const ROWS = 1000;
const CHANGESETS = 6;
const UPDATES = 400;

/**
 * The UPDATE resolver's start-up check, run by its worker before it takes any job: a group of
 * changesets of UPDATEs that leave columns out (rows updated again and again across the group,
 * an INSERT and a DELETE among them) is resolved on an in-memory database before it is applied,
 * then applied and resolved the applying thread's way (`applyStateDelta` after each changeset);
 * the two must give the same root. It also warms the code the worker runs on every group. Returns
 * null, or what differs.
 */
export function checkUpdateResolver(): string | null {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, d BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let id = 1; id <= ROWS; id++) {
        insert.run(id, id * 3, `row ${id}`, id + 0.5, id % 7 === 0 ? null : Buffer.alloc(4, id));
      }
    })();
    // What the replica holds, kept here to write each UPDATE's old values as SQLite would.
    const rows = new Map<number, [number, string]>();
    for (let id = 1; id <= ROWS; id++) rows.set(id, [id * 3, `row ${id}`]);
    const changesets: Uint8Array[] = [];
    for (let c = 0; c < CHANGESETS; c++) {
      const changes: ChangesetChange[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < UPDATES; i++) {
        const id = 1 + ((c * 131 + i * 17) % ROWS);
        if (seen.has(id) || !rows.has(id)) continue; // one change per row, and rows that exist
        seen.add(id);
        const [a, b] = rows.get(id)!;
        const next: [number, string] = c % 2 === 0 ? [a + 1, b] : [a, `${b}+`];
        const column = c % 2 === 0 ? 1 : 2;
        const oldValues: (number | string | undefined)[] = [id, undefined, undefined];
        const newValues: (number | string | undefined)[] = [undefined, undefined, undefined];
        oldValues[column] = column === 1 ? a : b;
        newValues[column] = column === 1 ? next[0] : next[1];
        changes.push({
          op: 'UPDATE',
          indirect: false,
          oldValues: [...oldValues, undefined, undefined],
          newValues: [...newValues, undefined, undefined],
        });
        rows.set(id, next);
      }
      if (c === 2) {
        changes.push({
          op: 'INSERT',
          indirect: false,
          oldValues: undefined,
          newValues: [ROWS + 1, 7, 'inserted', 1.25, null],
        });
        rows.set(ROWS + 1, [7, 'inserted']);
      }
      if (c === 4) {
        const [a, b] = rows.get(ROWS + 1)!;
        changes.push({
          op: 'UPDATE',
          indirect: false,
          oldValues: [ROWS + 1, a, undefined, undefined, undefined],
          newValues: [undefined, a + 1, undefined, undefined, undefined],
        });
        rows.set(ROWS + 1, [a + 1, b]);
        const [a5, b5] = rows.get(5)!;
        changes.push({
          op: 'DELETE',
          indirect: false,
          oldValues: [5, a5, b5, 5.5, Buffer.alloc(4, 5)],
          newValues: undefined,
        });
        rows.delete(5);
      }
      changesets.push(
        encodeChangeset({
          patchset: false,
          tables: [{ name: 't', columnCount: 5, primaryKey: [1, 0, 0, 0, 0], changes }],
        }),
      );
    }
    const deltas = changesets.map((c) => changesetStateDelta(c, { decodeUpdates: false }));
    const before = new LtHash16();
    // on the database as it is before the group
    const resolved = new LtHash16(before.lanes);
    const resolver = new GroupUpdateResolver(db);
    const lanes = new Uint16Array(LTHASH_LANES);
    resolver.resolve(
      { changesets, positions: deltas.map((d) => d.undecodedUpdates?.positions ?? null) },
      () => lanes,
      () => true,
    );
    resolved.addLanes(lanes);
    for (const d of deltas) resolved.addLanes(d.lanes);
    // the applying thread's way
    const inline = new LtHash16(before.lanes);
    db.transaction(() => {
      for (let c = 0; c < changesets.length; c++) {
        const result = applyChangeset(db, changesets[c]!, { transaction: 'caller' });
        if (result.omitted + result.replaced > 0) throw new Error('the check group did not apply');
        applyStateDelta(db, inline, deltas[c]!);
      }
    })();
    if (!resolved.equals(inline)) return 'the resolved root differs from the applying thread’s';
    return null;
  } catch (error) {
    return `the check failed: ${(error as Error)?.message ?? error}`;
  } finally {
    db.close();
  }
}
