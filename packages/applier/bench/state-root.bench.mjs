// The state root's cost per row element: changesetStateDelta of this build against the code it
// replaced (bench/state-root-baseline.mjs: the old loop with the old element hash, SHAKE128), in
// the same process, rounds alternated (which goes first alternates too), on the sync benchmark's
// row shapes. Prints µs per element and the ratio new/old per round, and checks that the new code
// gives what the old loop gives with today's element hash (BLAKE3). Then one element alone: the
// old SHAKE128 (createHash, and one-shot crypto.hash) against BLAKE3, each with its 1024 lane
// additions. Then the kernels against each other (the native addon's levels and WebAssembly, all
// this machine has): elements alone through the batch (copy, hash, lane sums) and whole
// changesetStateDelta calls, in the same process with rounds rotated. Run: pnpm bench:state-root
// (builds dist first). BENCH_REPS (default 7), BENCH_MESSAGES (default 200).
import { hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import {
  changesetStateDelta,
  hashElement,
  iterateChangeset,
  LtHash16,
  RowElementWriter,
  scriptChangesetStateDelta,
  selectStateRootKernel,
  stateRootKernel,
} from '../dist/index.js';
import { oldChangesetStateDelta, oldHashElement } from './state-root-baseline.mjs';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);

// The sync benchmark's schema and row mix (packages/sync/bench/catch-up.ts): 500 changes per
// message (80% inserts, 10% updates and 5% deletes of rows inserted in the same message, which
// the session folds into the inserts, 5% upserts of balances), and one-row messages.
const SCHEMA = `
CREATE TABLE items (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, name TEXT, amount REAL, tag BLOB);
CREATE TABLE balances (account INTEGER NOT NULL, asset TEXT NOT NULL, amount INTEGER NOT NULL,
  PRIMARY KEY (account, asset)) WITHOUT ROWID;`;

function workload(messages, rowsPerMessage) {
  const db = new DatabaseSync(':memory:');
  db.exec(SCHEMA);
  const insert = db.prepare('INSERT INTO items VALUES (?, ?, ?, ?, ?)');
  const update = db.prepare('UPDATE items SET amount = amount + 1.5, name = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM items WHERE id = ?');
  const upsert = db.prepare(
    'INSERT INTO balances VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET amount = amount + excluded.amount',
  );
  const changesets = [];
  let nextId = 1;
  for (let m = 0; m < messages; m++) {
    const session = db.createSession();
    db.exec('BEGIN');
    if (rowsPerMessage === 1) {
      insert.run(nextId, nextId % 97, `item ${nextId}`, nextId / 3, null);
      nextId++;
    } else {
      const inserts = Math.floor(rowsPerMessage * 0.8);
      const first = nextId;
      for (let i = 0; i < inserts; i++) {
        const tag = i % 10 === 0 ? Buffer.alloc(16, i) : null;
        insert.run(nextId, nextId % 97, `item ${nextId}`, nextId / 3, tag);
        nextId++;
      }
      for (let i = 0; i < rowsPerMessage * 0.1; i++) update.run(`renamed ${m}`, first + i * 3);
      for (let i = 0; i < rowsPerMessage * 0.05; i++) remove.run(first + i * 7 + 1);
      for (let i = 0; i < rowsPerMessage * 0.05; i++)
        upsert.run((m * 31 + i) % 500, i % 2 === 0 ? 'ETH' : 'USDC', BigInt(i + 1));
    }
    db.exec('COMMIT');
    changesets.push(session.changeset());
    session.close();
  }
  // a message deleting rows of earlier messages: DELETE records, subtracted lanes
  if (rowsPerMessage > 1) {
    const session = db.createSession();
    db.exec('BEGIN');
    db.exec('DELETE FROM items WHERE id % 3 = 0');
    db.exec('COMMIT');
    changesets.push(session.changeset());
    session.close();
  }
  db.close();
  let elements = 0;
  let updates = 0;
  for (const cs of changesets)
    for (const { change } of iterateChangeset(cs)) {
      if (change.op === 'UPDATE') updates++;
      else elements++;
    }
  return { changesets, elements, updates };
}

const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * The baseline's delta with today's rule for UPDATEs that carry every column (resolved from the
 * changeset: the old row's element subtracted, the new row's added) instead of left pending.
 */
function withCompleteUpdates(delta) {
  const lanes = delta.lanes.slice();
  const scratch = new Uint16Array(lanes.length);
  const writer = new RowElementWriter();
  const add = (table, types, values, sign) => {
    writer.begin(table, types.length);
    for (let i = 0; i < types.length; i++) writer.value(types[i], values[i]);
    hashElement(writer.finish(), scratch);
    for (let i = 0; i < lanes.length; i++) lanes[i] = lanes[i] + sign * scratch[i];
  };
  const updates = [];
  for (const u of delta.updates) {
    if (u.oldTypes.some((t) => t === 0)) {
      updates.push(u);
      continue;
    }
    add(u.table, u.oldTypes, u.oldValues, -1);
    const types = u.oldTypes.map((t, i) => (u.newTypes[i] !== 0 ? u.newTypes[i] : t));
    const values = u.oldValues.map((v, i) => (u.newTypes[i] !== 0 ? u.newValues[i] : v));
    add(u.table, types, values, 1);
  }
  return { lanes, updates };
}

function check(w) {
  for (const cs of w.changesets) {
    const a = withCompleteUpdates(oldChangesetStateDelta(cs, hashElement));
    const b = changesetStateDelta(cs);
    if (
      hex(a.lanes) !== hex(b.lanes) ||
      JSON.stringify(a.updates, big) !== JSON.stringify(b.updates, big)
    )
      throw new Error('changesetStateDelta differs from the baseline');
  }
}
function big(_k, v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return hex(v);
  return v;
}

function timeDeltas(fn, changesets) {
  const t = performance.now();
  for (const cs of changesets) fn(cs);
  return performance.now() - t;
}

function compare(label, w) {
  const rows = [];
  const ratios = [];
  const sides = [
    ['old', oldChangesetStateDelta],
    ['new', changesetStateDelta],
  ];
  for (const [, fn] of sides) timeDeltas(fn, w.changesets); // warm-up
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? sides : [...sides].reverse();
    const ms = {};
    for (const [name, fn] of order) ms[name] = timeDeltas(fn, w.changesets);
    ratios.push(ms.new / ms.old);
    rows.push({
      round: rep + 1,
      'old µs/element': ((ms.old * 1000) / w.elements).toFixed(2),
      'new µs/element': ((ms.new * 1000) / w.elements).toFixed(2),
      'new / old': (ms.new / ms.old).toFixed(3),
    });
  }
  console.log(
    `\n${label}: ${w.changesets.length} changesets, ${w.elements} elements hashed, ${w.updates} UPDATEs left to resolve`,
  );
  console.table(rows);
  ratios.sort((a, b) => a - b);
  console.log(`median new / old: ${ratios[ratios.length >> 1].toFixed(3)}`);
}

/** One element on its own, as LtHash16#add: the XOF and the 1024 lane additions. */
function elementAdd() {
  const e = new TextEncoder().encode('items 12345 item 12345 4115.0');
  const h = new LtHash16();
  const a = h.lanes;
  const scratch = new Uint16Array(1024);
  const sides = [
    [
      'SHAKE128 createHash (old)',
      () => {
        oldHashElement(e, scratch);
        for (let i = 0; i < 1024; i++) a[i] = a[i] + scratch[i];
      },
    ],
    [
      'SHAKE128 crypto.hash one-shot',
      () => {
        const d = hash('shake128', e, { outputLength: 2048, outputEncoding: 'buffer' });
        const l = new Uint16Array(d.buffer, d.byteOffset, 1024);
        for (let i = 0; i < 1024; i++) a[i] = a[i] + l[i];
      },
    ],
    ['BLAKE3 XOF (new, LtHash16#add)', () => h.add(e)],
  ];
  const n = 20000;
  const time = (f) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t) * 1000) / n;
  };
  for (const [, f] of sides) for (let i = 0; i < 2000; i++) f();
  const us = sides.map(() => []);
  for (let rep = 0; rep < REPS; rep++) {
    for (let k = 0; k < sides.length; k++) {
      const j = (k + rep) % sides.length; // rotate which goes first
      us[j].push(time(sides[j][1]));
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  console.log(`\none element (${e.length} bytes) added to an LtHash16: XOF + 1024 lane additions`);
  console.table(
    sides.map(([name], j) => ({
      xof: name,
      'µs per round': us[j].map((x) => x.toFixed(2)).join(' '),
      'median / old': median(us[j].map((x, r) => x / us[0][r])).toFixed(3),
    })),
  );
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

/**
 * Each kernel against WebAssembly, rounds rotated: `run()` is timed once per kernel per round;
 * prints µs per element per round and the median ratio to wasm of the same round.
 */
function kernelRounds(label, count, run) {
  const kernels = stateRootKernel().available;
  for (const k of kernels) {
    selectStateRootKernel(k);
    run(); // warm-up
  }
  const us = Object.fromEntries(kernels.map((k) => [k, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < kernels.length; i++) {
      const k = kernels[(i + rep) % kernels.length];
      selectStateRootKernel(k);
      const t = performance.now();
      run();
      us[k].push(((performance.now() - t) * 1000) / count);
    }
  }
  selectStateRootKernel('auto');
  console.log(`\n${label}`);
  console.table(
    kernels.map((k) => ({
      kernel: k,
      'µs per element, per round': us[k].map((x) => x.toFixed(3)).join(' '),
      median: median(us[k]).toFixed(3),
      'median / wasm': median(us[k].map((x, r) => x / us.wasm[r])).toFixed(3),
    })),
  );
}

/**
 * changesetStateDelta's native pass (C: parse, build the elements, hash) against its JavaScript
 * pass (`scriptChangesetStateDelta`: parse and build in JavaScript, hash with the same kernel), at
 * each native level, rounds alternated.
 */
function passRounds(label, count, changesets) {
  const levels = stateRootKernel().available.filter((k) => k !== 'wasm');
  for (const k of levels) {
    selectStateRootKernel(k);
    const sides = [
      ['JavaScript pass', scriptChangesetStateDelta],
      ['native pass', changesetStateDelta],
    ];
    for (const [, f] of sides) for (const cs of changesets) f(cs); // warm-up
    const us = sides.map(() => []);
    for (let rep = 0; rep < REPS; rep++) {
      for (let i = 0; i < sides.length; i++) {
        const j = (i + rep) % sides.length;
        const f = sides[j][1];
        const t = performance.now();
        for (const cs of changesets) f(cs);
        us[j].push(((performance.now() - t) * 1000) / count);
      }
    }
    console.log(`\n${label}, ${k}`);
    console.table(
      sides.map(([name], j) => ({
        pass: name,
        'µs per element, per round': us[j].map((v) => v.toFixed(3)).join(' '),
        median: median(us[j]).toFixed(3),
        'median / JavaScript pass': median(us[j].map((v, r) => v / us[0][r])).toFixed(3),
      })),
    );
  }
  selectStateRootKernel('auto');
}

/**
 * The kernels alone, per element: 4,000 elements of `size` bytes already in the kernel's input
 * (no copies, no JavaScript per element), one call hashing them and summing their lanes, for
 * the WebAssembly module (wasm/blake3-lthash.wasm) and each native level (dist/*.node).
 */
function kernelsAlone(size) {
  const n = 4000;
  const sides = [];
  const wasmModule = new WebAssembly.Module(
    readFileSync(new URL('../wasm/blake3-lthash.wasm', import.meta.url)),
  );
  const x = new WebAssembly.Instance(wasmModule, {}).exports;
  const base = x.__heap_base.value;
  if (x.memory.buffer.byteLength < base + n * size) {
    x.memory.grow(Math.ceil((base + n * size - x.memory.buffer.byteLength) / 65536));
  }
  const input = new Uint8Array(n * size);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31 + 7) & 0xff;
  const descriptors = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    descriptors[2 * i] = i * size;
    descriptors[2 * i + 1] = (i & 7) === 0 ? (size | 0x80000000) >>> 0 : size;
  }
  new Uint8Array(x.memory.buffer).set(input, base);
  new Uint32Array(x.memory.buffer, x.lthash_descriptors(), 2 * n).set(descriptors);
  sides.push([
    'wasm',
    () => {
      x.lthash_acc_reset();
      x.lthash_acc_batch(base, n);
      x.lthash_acc_take();
    },
  ]);
  const addonFile = new URL('../dist/blake3-lthash.linux-x64-gnu.node', import.meta.url);
  if (existsSync(addonFile)) {
    const addon = createRequire(import.meta.url)(fileURLToPath(addonFile));
    const target = new Uint16Array(1024);
    for (const level of addon.levels) {
      sides.push([level, () => addon[level].accumulate(input, descriptors, n, target)]);
    }
  }
  for (const [, f] of sides) for (let i = 0; i < 3; i++) f();
  const us = sides.map(() => []);
  for (let rep = 0; rep < REPS; rep++) {
    for (let k = 0; k < sides.length; k++) {
      const j = (k + rep) % sides.length;
      const t = performance.now();
      for (let i = 0; i < 5; i++) sides[j][1]();
      us[j].push(((performance.now() - t) * 1000) / (5 * n));
    }
  }
  console.log(`\nthe kernels alone: ${size}-byte elements, ${n} per call, hashed and summed`);
  console.table(
    sides.map(([name], j) => ({
      kernel: name,
      'µs per element, per round': us[j].map((v) => v.toFixed(3)).join(' '),
      median: median(us[j]).toFixed(3),
      'median / wasm': median(us[j].map((v, r) => v / us[0][r])).toFixed(3),
    })),
  );
}

const bulk = workload(MESSAGES, 500);
const oneRow = workload(MESSAGES * 25, 1);
check(bulk);
check(oneRow);
console.log(
  "changesetStateDelta equals the old loop's (with today's element hash and today's rule for UPDATEs that carry every column) on every changeset of both workloads",
);
compare(`${MESSAGES} messages x 500 changes`, bulk);
compare(`${MESSAGES * 25} one-row messages`, oneRow);
elementAdd();
console.log(
  `\nkernels: ${stateRootKernel().available.join(', ')} (load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')})`,
);
kernelRounds(
  `changesetStateDelta, ${MESSAGES} messages x 500 changes (${bulk.elements} elements)`,
  bulk.elements,
  () => {
    for (const cs of bulk.changesets) changesetStateDelta(cs);
  },
);
kernelRounds(`changesetStateDelta, ${MESSAGES * 25} one-row messages`, oneRow.elements, () => {
  for (const cs of oneRow.changesets) changesetStateDelta(cs);
});
passRounds(
  `changesetStateDelta, ${MESSAGES} messages x 500 changes`,
  bulk.elements,
  bulk.changesets,
);
passRounds(
  `changesetStateDelta, ${MESSAGES * 25} one-row messages`,
  oneRow.elements,
  oneRow.changesets,
);
for (const size of [48, 96, 160]) kernelsAlone(size);
{
  const e = new TextEncoder().encode('items 12345 item 12345 4115.0');
  const h = new LtHash16();
  kernelRounds(
    `one ${e.length}-byte element through LtHash16#add (20,000 per round)`,
    20_000,
    () => {
      for (let i = 0; i < 20_000; i++) h.add(e);
    },
  );
}
