import type { Database } from 'better-sqlite3';
import { type Change, newChange } from '../changeset/read-record';
import { Reader } from '../changeset/reader';
import type { ApplyOptions, ApplyResult, ApplyStats, ConflictAction, ConflictInfo } from '../types';
import { defaultPolicy } from './conflicts';
import type { DatabaseCache } from './database-cache';
import { ForeignKeys, type ForeignKeysMode } from './foreign-keys';
import { RunBuffers } from './multi-row-runs';
import type { TableInfo } from './table-info';

/** The changes of one table header: what the header says, and where they are applied. */
export class TableSection {
  /** Table name as the changeset spells it. */
  readonly name: string;
  /** Column count of the header (the table may have more, trailing, columns). */
  readonly columns: number;
  /** The header's primary-key flag per column. */
  readonly pk: Uint8Array;
  /** The target table, or null when the section is skipped (filtered out, missing, mismatched). */
  readonly table: TableInfo | null;
  /** The change being applied row by row (reused: each read overwrites it). */
  readonly change: Change;
  /** Offsets of changes whose CONSTRAINT conflict is retried at the end of the section. */
  deferred: number[] = [];
  /** False once a retry round made no progress: CONSTRAINT conflicts are then reported. */
  deferConstraints = true;
  /** False once the sorted chunk path did not take this section's next changes. */
  sortable = true;

  constructor(name: string, columns: number, pk: Uint8Array, table: TableInfo | null) {
    this.name = name;
    this.columns = columns;
    this.pk = pk;
    this.table = table;
    this.change = newChange(columns);
  }
}

/** Before the first table header (and after a restart): no table, no columns. Never changed. */
export const NO_SECTION = new TableSection('', 0, new Uint8Array(0), null);

/** One applyChangeset / applyPatchset call: what every part of the engine reads and adds to. */
export class ApplyContext {
  readonly db: Database;
  readonly cache: DatabaseCache;
  /** The cursor over the changeset. */
  readonly reader: Reader;
  readonly patchset: boolean;
  readonly onConflict: (info: ConflictInfo) => ConflictAction;
  readonly filter: ((table: string) => boolean) | undefined;
  readonly checkSchema: boolean;
  /** The caller's counters, when it asked for them (nothing is counted otherwise). */
  readonly stats: ApplyStats | undefined;
  readonly result: ApplyResult = { inserted: 0, updated: 0, deleted: 0, omitted: 0, replaced: 0 };
  readonly foreignKeys: ForeignKeys;
  /** Tables the apply wrote to (their foreign keys are checked at the end). */
  readonly touched = new Set<TableInfo>();
  /** Parameter arrays of the multi-row runs, reused within this apply. */
  readonly runBuffers = new RunBuffers();
  /** The section of the change at the cursor. */
  section: TableSection = NO_SECTION;

  constructor(
    cache: DatabaseCache,
    buf: Uint8Array,
    patchset: boolean,
    options: ApplyOptions,
    foreignKeysMode: ForeignKeysMode,
  ) {
    this.db = cache.db;
    this.cache = cache;
    // A plain Uint8Array view: the apply's BLOB values only reach better-sqlite3's bind
    // (conflict handlers get copies), so they need not keep the class of a Buffer input, and a
    // plain view is the cheapest to make (see Reader#plain).
    this.reader = new Reader(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    this.patchset = patchset;
    this.onConflict = options.onConflict ?? defaultPolicy;
    this.filter = options.filter;
    this.checkSchema = options.checkSchema ?? true;
    this.stats = options.stats;
    this.foreignKeys = new ForeignKeys(foreignKeysMode);
  }
}
