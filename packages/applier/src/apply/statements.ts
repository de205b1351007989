import type { Database, RunResult, Statement } from 'better-sqlite3';
import { quoteIdent } from '../quote-ident';
import type { ColumnValue } from '../types';
import type { TableSection } from './apply-context';

// The SQL the apply runs against a section's table, each statement prepared once per table
// and shape (kept in TableInfo.stmts until the schema changes), and how values are bound.

// biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 statements take positional arrays
export type Stmt = Statement<any[], any>;

/** Rows per multi-row statement (capped by SQLite's 32766 bound parameters). */
export const INSERT_BATCH_ROWS = 200;
export const UPDATE_BATCH_ROWS = 100;
export const DELETE_BATCH_ROWS = 100;
/** Rows per statement for the rest of a run shorter than a full batch. */
export const SMALL_BATCH_ROWS = 16;
export const MAX_PARAMS = 32000;

/**
 * better-sqlite3 binds spread arguments faster than one array argument (it reads an array
 * element by element through the V8 API): ~12% of a 200-row INSERT's run time. Very long
 * parameter lists still go as an array to stay far from the call-stack limit.
 */
const SPREAD_MAX = 4096;

/**
 * What multi-row statements bind for NULL. better-sqlite3 13 (Node-API) tests a value's type one
 * Node-API call at a time (number, bigint, string, buffer, then null), so a null costs about
 * twice a number to bind. SQLite turns a bound NaN into NULL
 * (sqlite3VdbeMemSetDouble), so binding NaN is binding NULL. Only values that are bound and
 * never shown use it: the row-by-row path, whose values reach conflict handlers, keeps null.
 */
export const BOUND_NULL = Number.NaN;

export function runWith(s: Stmt, params: ColumnValue[]): RunResult {
  return params.length <= SPREAD_MAX ? s.run(...params) : s.run(params);
}

function cached(db: Database, s: TableSection, key: string | number, build: () => string): Stmt {
  const stmts = s.table!.stmts;
  let st = stmts.get(key);
  if (!st) {
    st = db.prepare(build());
    stmts.set(key, st);
  }
  return st;
}

/** Comparison for primary-key column i: '=' as the session extension, 'IS' for sqlite_stat1.idx. */
function pkEq(s: TableSection, i: number): string {
  return s.table!.stat1 && i === 1 ? 'IS' : '=';
}

function column(s: TableSection, i: number): string {
  return quoteIdent(s.table!.columns[i]!);
}

function tableName(s: TableSection): string {
  return `main.${quoteIdent(s.table!.name)}`;
}

function columnList(s: TableSection): string {
  return s.table!.columns.slice(0, s.columns).map(quoteIdent).join(', ');
}

/** `n` copies of `one` joined by `sep`. */
function repeat(one: string, n: number, sep: string): string {
  return new Array(n).fill(one).join(sep);
}

/** INSERT of `rows` rows (every column of the section). */
export function insertStatement(db: Database, s: TableSection, rows: number): Stmt {
  return cached(db, s, `i${s.columns}:${rows}`, () => {
    const one = `(${repeat('?', s.columns, ',')})`;
    return `INSERT INTO ${tableName(s)} (${columnList(s)}) VALUES ${repeat(one, rows, ',')}`;
  });
}

/** DELETE by PK; with a trailing "? OR (old values match)" flag when the table has non-PK columns. */
export function deleteStatement(db: Database, s: TableSection): Stmt {
  return cached(db, s, `d${s.columns}`, () => {
    const where: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < s.columns; i++) {
      if (s.pk[i] !== 0) where.push(`${column(s, i)} ${pkEq(s, i)} ?`);
      else rest.push(`${column(s, i)} IS ?`);
    }
    let sql = `DELETE FROM ${tableName(s)} WHERE ${where.join(' AND ')}`;
    if (rest.length > 0) sql += ` AND (? OR ${rest.join(' AND ')})`;
    return sql;
  });
}

/** The stored row with the change's primary key (raw, exact integers). */
export function selectStatement(db: Database, s: TableSection): Stmt {
  return cached(db, s, `s${s.columns}`, () => {
    const where: string[] = [];
    for (let i = 0; i < s.columns; i++) if (s.pk[i] !== 0) where.push(`${column(s, i)} IS ?`);
    return `SELECT ${columnList(s)} FROM ${tableName(s)} WHERE ${where.join(' AND ')}`;
  })
    .raw(true)
    .safeIntegers(true);
}

/**
 * UPDATE of one row for one set of changed columns. mask: one character per column,
 * '0' + (1 = new value set) + (2 = old value compared).
 */
export function updateStatement(db: Database, s: TableSection, mask: string): Stmt {
  return cached(db, s, `u${mask}`, () => {
    const set: string[] = [];
    const where: string[] = [];
    for (let i = 0; i < s.columns; i++) {
      const m = mask.charCodeAt(i) - 48;
      const col = column(s, i);
      if (m & 1) set.push(`${col} = ?`);
      if (s.pk[i] !== 0) where.push(`${col} ${pkEq(s, i)} ?`);
      else if (m & 2) where.push(`${col} IS ?`);
    }
    if (set.length === 0) {
      const firstPk = column(
        s,
        s.pk.findIndex((f) => f !== 0),
      );
      set.push(`${firstPk} = ${firstPk}`);
    }
    return `UPDATE ${tableName(s)} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`;
  });
}

/**
 * UPDATE … FROM (VALUES …) of `rows` rows with the same mask; each row binds its new values,
 * then its primary key and compared old values (`perRow` in all).
 */
export function updateBatchStatement(
  db: Database,
  s: TableSection,
  mask: string,
  rows: number,
  perRow: number,
): Stmt {
  return cached(db, s, `U${mask}:${rows}`, () => {
    const set: string[] = [];
    const where: string[] = [];
    let k = 1;
    for (let i = 0; i < s.columns; i++) {
      if ((mask.charCodeAt(i) - 48) & 1) set.push(`${column(s, i)} = _v.column${k++}`);
    }
    for (let i = 0; i < s.columns; i++) {
      const col = `_t.${column(s, i)}`;
      if (s.pk[i] !== 0) where.push(`${col} = _v.column${k++}`);
      else if ((mask.charCodeAt(i) - 48) & 2) where.push(`${col} IS _v.column${k++}`);
    }
    const one = `(${repeat('?', perRow, ',')})`;
    return `UPDATE ${tableName(s)} AS _t SET ${set.join(', ')} FROM (VALUES ${repeat(one, rows, ',')}) AS _v WHERE ${where.join(' AND ')}`;
  });
}

/**
 * The parameter layout of one row of updateBatchStatement for `mask`: where each new value
 * (newSlot) and each key or compared old value (oldSlot) goes, -1 where the change must not
 * carry one. Returns the parameters per row.
 */
export function updateBatchSlots(
  s: TableSection,
  mask: string,
  oldSlot: number[],
  newSlot: number[],
): number {
  let sets = 0;
  for (let i = 0; i < s.columns; i++) if ((mask.charCodeAt(i) - 48) & 1) sets++;
  let set = 0;
  let where = sets;
  for (let i = 0; i < s.columns; i++) {
    const m = mask.charCodeAt(i) - 48;
    newSlot[i] = m & 1 ? set++ : -1;
    oldSlot[i] = s.pk[i] !== 0 || m & 2 ? where++ : -1;
  }
  return where;
}

/** DELETE of `rows` rows whose primary key and old values all match (every column bound). */
export function deleteBatchStatement(db: Database, s: TableSection, rows: number): Stmt {
  return cached(db, s, `D${s.columns}:${rows}`, () => {
    if (s.columns > 100) return deleteJoinSql(s, rows); // keeps the expression tree shallow
    // one term per row (the single-row DELETE's condition): SQLite looks each one up by key
    const conds: string[] = [];
    for (let i = 0; i < s.columns; i++) {
      conds.push(s.pk[i] !== 0 ? `${column(s, i)} = ?` : `${column(s, i)} IS ?`);
    }
    return `DELETE FROM ${tableName(s)} WHERE ${repeat(`(${conds.join(' AND ')})`, rows, ' OR ')}`;
  });
}

/** DELETE ... WHERE pk IN (rows whose PK and old values match). */
function deleteJoinSql(s: TableSection, rows: number): string {
  const on: string[] = [];
  const pkCols: string[] = [];
  for (let i = 0; i < s.columns; i++) {
    const col = column(s, i);
    if (s.pk[i] !== 0) {
      on.push(`_t.${col} = _v.column${i + 1}`);
      pkCols.push(col);
    } else on.push(`_t.${col} IS _v.column${i + 1}`);
  }
  const one = `(${repeat('?', s.columns, ',')})`;
  const sel = pkCols.map((c) => `_t.${c}`).join(', ');
  const table = quoteIdent(s.table!.name);
  return `DELETE FROM main.${table} WHERE (${pkCols.join(', ')}) IN (SELECT ${sel} FROM (VALUES ${repeat(one, rows, ',')}) AS _v JOIN main.${table} AS _t ON ${on.join(' AND ')})`;
}
