// Preloaded into the validator by the soak test (`node --expose-gc --import <this>`): a full
// garbage collection every SYNDDB_SOAK_GC_MS (default 50 ms), so that finalizers of native
// objects (SQLite statements, worker handles) run constantly while the validator works.
const every = Number(process.env.SYNDDB_SOAK_GC_MS ?? 50);
if (typeof globalThis.gc !== 'function') {
  throw new Error('force-gc.mjs needs node --expose-gc');
}
setInterval(() => globalThis.gc(), every).unref();
