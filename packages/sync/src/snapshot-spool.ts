// Snapshot payloads too large to hold (issue 13) wait on disk between their download and their
// restore: a spool file beside the replica, named after it, removed after the restore, when the
// batch is dropped, or at the next start after a crash.
import { randomUUID } from 'node:crypto';
import { createReadStream, readdirSync, statfsSync, unlinkSync } from 'node:fs';
import { type FileHandle, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InsufficientDiskSpaceError } from './errors';

/** A snapshot payload on disk (a `PreparedMessage`'s `payload` when it was too large to hold). */
export interface SpooledPayload {
  readonly path: string;
  /** Its length in bytes. */
  readonly bytes: number;
  /** The payload, read from the file. */
  read(): AsyncIterable<Uint8Array>;
  /** Removes the file; idempotent. */
  discard(): Promise<void>;
}

/** Where a replica's spool files go, and how much free disk they must leave. */
export interface SnapshotSpoolPlace {
  directory: string;
  /** File names start with this (unique per replica file). */
  prefix: string;
  /** Free space to leave on the disk, in bytes. */
  reserveBytes: number;
}

/** Spool file names: the applier's temporary images start with `.synddb-snapshot-` too. */
const PREFIX = '.synddb-snapshot-batch-';
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** The spool place of a replica: beside its file (`:memory:`: the OS temp dir). */
export function snapshotSpoolPlace(databasePath: string, reserveBytes: number): SnapshotSpoolPlace {
  const inMemory = databasePath === ':memory:' || databasePath === '';
  return inMemory
    ? { directory: tmpdir(), prefix: `${PREFIX}memory-${process.pid}-`, reserveBytes }
    : {
        directory: dirname(databasePath),
        prefix: `${PREFIX}${basename(databasePath)}-`,
        reserveBytes,
      };
}

/**
 * Removes the spool files a crash left behind for this replica (only one engine writes a replica,
 * so none of them is in use). Not for in-memory replicas, whose names are per process.
 */
export function sweepSnapshotSpools(place: SnapshotSpoolPlace): void {
  if (place.prefix.startsWith(`${PREFIX}memory-`)) return;
  let names: string[];
  try {
    names = readdirSync(place.directory);
  } catch {
    return; // the directory is the replica's: opening the replica reports a problem with it
  }
  for (const name of names) {
    if (!name.startsWith(place.prefix)) continue;
    try {
      unlinkSync(join(place.directory, name));
    } catch {
      // gone already, or not ours to remove: the next start tries again
    }
  }
}

/** Throws `InsufficientDiskSpaceError` unless `directory`'s disk has `needed` bytes free. */
export async function requireFreeSpace(
  directory: string,
  needed: number,
  what: string,
): Promise<void> {
  checkFreeSpace(await statfs(directory), directory, needed, what);
}

/** `requireFreeSpace`, without a trip through the thread pool. */
export function requireFreeSpaceSync(directory: string, needed: number, what: string): void {
  checkFreeSpace(statfsSync(directory), directory, needed, what);
}

function checkFreeSpace(
  stats: { bavail: number; bsize: number },
  directory: string,
  needed: number,
  what: string,
): void {
  const available = stats.bavail * stats.bsize;
  if (available < needed) throw new InsufficientDiskSpaceError(what, directory, needed, available);
}

/**
 * A spool file being written: `write`s are gathered into 1 MiB writes (a chunk is copied, so the
 * caller may reuse it), `end` flushes and closes. The disk must have room for `bytes` and the
 * reserve before anything is written.
 */
export class SpoolFile implements SpooledPayload {
  private handle: FileHandle | undefined;
  private readonly buffer = new Uint8Array(WRITE_BUFFER_BYTES);
  private buffered = 0;
  private written = 0;
  /** The write in flight, awaited before the next one and before the file is removed. */
  private pending: Promise<unknown> = Promise.resolve();
  private discarded = false;

  private constructor(
    readonly path: string,
    readonly bytes: number,
    handle: FileHandle,
  ) {
    this.handle = handle;
  }

  static async create(place: SnapshotSpoolPlace, bytes: number): Promise<SpoolFile> {
    await requireFreeSpace(
      place.directory,
      bytes + place.reserveBytes,
      `a ${bytes}-byte snapshot payload`,
    );
    const path = join(place.directory, `${place.prefix}${randomUUID()}`);
    return new SpoolFile(path, bytes, await open(path, 'wx', 0o600));
  }

  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, this.buffer.length - this.buffered);
      this.buffer.set(chunk.subarray(at, at + n), this.buffered);
      this.buffered += n;
      at += n;
      if (this.buffered === this.buffer.length) await this.flush();
    }
  }

  async end(): Promise<void> {
    await this.flush();
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
    if (this.written !== this.bytes) {
      throw new Error(`spooled ${this.written} of ${this.bytes} payload bytes`);
    }
  }

  read(): AsyncIterable<Uint8Array> {
    if (this.discarded) throw new Error(`spooled payload ${this.path} was discarded`);
    return createReadStream(this.path, { highWaterMark: WRITE_BUFFER_BYTES });
  }

  async discard(): Promise<void> {
    this.discarded = true;
    await this.pending.catch(() => undefined);
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    const handle = this.handle;
    if (handle === undefined || this.discarded) throw new Error('spool file is closed');
    let at = 0;
    while (at < this.buffered) {
      const write = handle.write(this.buffer, at, this.buffered - at, this.written);
      this.pending = write;
      const { bytesWritten } = await write;
      at += bytesWritten;
      this.written += bytesWritten;
    }
    this.buffered = 0;
  }
}

/** Releases the spooled payloads of prepared messages (a batch dropped or done with). */
export async function discardSpooled(
  messages: readonly { type: unknown; payload?: unknown }[],
): Promise<void> {
  await Promise.all(
    messages.map((m) => (m.payload instanceof SpoolFile ? m.payload.discard() : undefined)),
  );
}
