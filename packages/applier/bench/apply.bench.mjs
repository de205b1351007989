// Applies the same changesets with @synddb/applier (on better-sqlite3) and with node:sqlite's
// native DatabaseSync#applyChangeset, each on its own file-backed WAL database
// (synchronous=NORMAL), and prints times, the ours/native CPU ratio, its goal and whether it is
// met. Run: pnpm bench (builds dist first). BENCH_REPS (default 7) and BENCH_ONLY (a substring of
// a workload name) narrow it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import Database from 'better-sqlite3';
import { applyChangeset } from '../dist/index.js';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const require = createRequire(import.meta.url);
const driverVersion = require('better-sqlite3/package.json').version;
const dir = mkdtempSync(join(tmpdir(), 'applier-bench-'));
let fileNo = 0;
const SCHEMA = `
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, n INTEGER);
CREATE TABLE pairs(a TEXT, b INTEGER, v REAL, w TEXT, PRIMARY KEY (b, a)) WITHOUT ROWID;`;

// foreign keys (on by default in both bindings) and a sync cursor, for the 'caller' workload
const FK_SCHEMA = `
CREATE TABLE parents(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE children(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES parents(id), v REAL);
CREATE TABLE cursor(seq INTEGER);
INSERT INTO cursor VALUES (0);`;

function source(schema = SCHEMA) {
  const db = new DatabaseSync(join(dir, `src${fileNo++}.db`));
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;');
  db.exec(schema);
  return db;
}
function record(db, fn) {
  const s = db.createSession();
  db.exec('BEGIN');
  fn(db);
  db.exec('COMMIT');
  const cs = s.changeset();
  s.close();
  return cs;
}
function fillItems(db, from, to) {
  const ins = db.prepare('INSERT INTO items VALUES (?,?,?,?,?)');
  for (let i = from; i <= to; i++)
    ins.run(i, `name-${i}`, i * 0.25, Buffer.from([i & 255, 7, 7, 7]), i * 3);
}
function fillPairs(db, from, to) {
  const ins = db.prepare('INSERT INTO pairs VALUES (?,?,?,?)');
  for (let i = from; i <= to; i++) ins.run(`k${i % 7}`, i, i / 3, `w${i}`);
}

function workloads() {
  const w = [];
  {
    const db = source();
    w.push({
      name: '200k-row INSERT',
      goal: 1.0,
      base: [],
      sets: [record(db, (d) => fillItems(d, 1, 200_000))],
    });
  }
  {
    const db = source();
    const base = record(db, (d) => fillItems(d, 1, 100_000));
    w.push({
      name: '100k-row UPDATE',
      goal: 1.3,
      base: [base],
      sets: [record(db, (d) => d.exec('UPDATE items SET score = score + 1, n = n + 1'))],
    });
  }
  {
    const db = source();
    const base = record(db, (d) => fillItems(d, 1, 100_000));
    w.push({
      name: '100k-row DELETE',
      goal: 1.3,
      base: [base],
      sets: [record(db, (d) => d.exec('DELETE FROM items'))],
    });
  }
  {
    const db = source();
    const base = record(db, (d) => {
      fillItems(d, 1, 60_000);
      fillPairs(d, 1, 40_000);
    });
    const mixed = record(db, (d) => {
      fillItems(d, 60_001, 100_000);
      d.exec("UPDATE items SET name = name || '!' WHERE id % 3 = 0");
      d.exec('DELETE FROM items WHERE id % 5 = 1 AND id <= 60000');
      fillPairs(d, 40_001, 60_000);
      d.exec('UPDATE pairs SET v = v * 2 WHERE b % 4 = 0');
      d.exec('DELETE FROM pairs WHERE b % 10 = 3');
    });
    w.push({ name: 'mixed (2 tables, ~140k changes)', goal: 1.3, base: [base], sets: [mixed] });
  }
  {
    const db = source();
    const base = record(db, (d) => fillItems(d, 1, 10_000));
    const sets = [];
    const up = db.prepare('UPDATE items SET score = ?, n = n + 1 WHERE id = ?');
    const ins = db.prepare('INSERT INTO items VALUES (?,?,?,?,?)');
    for (let i = 1; i <= 10_000; i++) {
      const s = db.createSession();
      if (i % 2 === 0) up.run(i * 1.5, i);
      else ins.run(100_000 + i, `new-${i}`, i, null, i);
      sets.push(s.changeset());
      s.close();
    }
    w.push({ name: '10k one-row changesets', goal: 1.3, base: [base], sets });
  }
  {
    // as a replica applies: BEGIN; apply (transaction: 'caller'); advance the cursor; COMMIT
    const db = source(FK_SCHEMA);
    const base = record(db, (d) => {
      const p = d.prepare('INSERT INTO parents VALUES (?, ?)');
      for (let i = 1; i <= 1000; i++) p.run(i, `p${i}`);
      const c = d.prepare('INSERT INTO children VALUES (?, ?, ?)');
      for (let i = 1; i <= 10_000; i++) c.run(i, (i % 1000) + 1, i / 4);
    });
    const sets = [];
    const up = db.prepare('UPDATE children SET v = ? WHERE id = ?');
    const ins = db.prepare('INSERT INTO children VALUES (?, ?, ?)');
    for (let i = 1; i <= 10_000; i++) {
      const s = db.createSession();
      if (i % 2 === 0) up.run(i * 1.5, i);
      else ins.run(100_000 + i, (i % 1000) + 1, i);
      sets.push(s.changeset());
      s.close();
    }
    w.push({
      name: "10k one-row, 'caller' + cursor, FKs on",
      schema: FK_SCHEMA,
      caller: true,
      base: [base],
      sets,
    });
  }
  return w;
}

function runOurs(w) {
  const db = new Database(join(dir, `ours${fileNo++}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(w.schema ?? SCHEMA);
  for (const b of w.base) applyChangeset(db, b);
  // Both sides start from an empty WAL: otherwise a base that ends under the 1000-page
  // autocheckpoint (ours: sorted inserts leave fewer pages) is checkpointed inside the timed apply.
  db.pragma('wal_checkpoint(TRUNCATE)');
  const c = process.cpuUsage();
  const t = performance.now();
  if (w.caller) {
    if (db.pragma('foreign_keys', { simple: true }) !== 1) throw new Error('foreign_keys off');
    const cursor = db.prepare('UPDATE cursor SET seq = ?');
    const begin = db.prepare('BEGIN');
    const commit = db.prepare('COMMIT');
    let seq = 0;
    for (const cs of w.sets) {
      begin.run();
      applyChangeset(db, cs, { transaction: 'caller' });
      cursor.run(++seq);
      commit.run();
    }
  } else for (const cs of w.sets) applyChangeset(db, cs);
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(c);
  db.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1000 };
}
function runNative(w) {
  const db = new DatabaseSync(join(dir, `nat${fileNo++}.db`));
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;');
  db.exec(w.schema ?? SCHEMA);
  for (const b of w.base) if (!db.applyChangeset(b)) throw new Error('native base apply failed');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const c = process.cpuUsage();
  const t = performance.now();
  if (w.caller) {
    const cursor = db.prepare('UPDATE cursor SET seq = ?');
    const begin = db.prepare('BEGIN');
    const commit = db.prepare('COMMIT');
    let seq = 0;
    for (const cs of w.sets) {
      begin.run();
      if (!db.applyChangeset(cs)) throw new Error('native apply failed');
      cursor.run(++seq);
      commit.run();
    }
  } else
    for (const cs of w.sets) if (!db.applyChangeset(cs)) throw new Error('native apply failed');
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(c);
  db.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1000 };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let missed = 0;
try {
  console.log(
    `node ${process.version}, better-sqlite3 ${driverVersion}; ${REPS} reps each after one warm-up round, interleaved; medians of wall time and of process CPU time (user+sys) in ms; goal: cpu ratio ours/native`,
  );
  const rows = [];
  const only = process.env.BENCH_ONLY;
  for (const w of workloads()) {
    if (only && !w.name.includes(only)) continue;
    const ours = [];
    const native = [];
    // one untimed round first: JIT warm-up of this workload's code paths (a validator applies
    // changesets all day; the first apply of a new shape is not what it spends its time on)
    runNative(w);
    runOurs(w);
    // alternate who goes first, so page-cache and CPU-frequency effects hit both sides
    for (let i = 0; i < REPS; i++) {
      if (i % 2 === 0) {
        native.push(runNative(w));
        ours.push(runOurs(w));
      } else {
        ours.push(runOurs(w));
        native.push(runNative(w));
      }
    }
    const o = median(ours.map((x) => x.ms));
    const n = median(native.map((x) => x.ms));
    const oc = median(ours.map((x) => x.cpu));
    const nc = median(native.map((x) => x.cpu));
    const ratio = oc / nc;
    const met = w.goal === undefined ? '—' : ratio <= w.goal ? 'yes' : 'NO';
    if (met === 'NO') missed++;
    rows.push({
      workload: w.name,
      'native ms': n.toFixed(1),
      'ours ms': o.toFixed(1),
      'wall ratio': (o / n).toFixed(2),
      'native cpu': nc.toFixed(1),
      'ours cpu': oc.toFixed(1),
      'cpu ratio': ratio.toFixed(2),
      goal: w.goal === undefined ? '—' : `<= ${w.goal.toFixed(1)}`,
      met,
    });
  }
  console.table(rows);
  console.log(missed === 0 ? 'every goal met' : `${missed} goal(s) missed`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
