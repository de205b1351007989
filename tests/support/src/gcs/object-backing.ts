import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** An object as the test server keeps it. */
export interface StoredObject {
  bytes: Uint8Array;
  contentType: string;
  /** Monotonic per server (memory) or derived from mtime (directory); a decimal string in JSON. */
  generation: bigint;
  updated: Date;
}

/** A name the backing cannot store (it would leave the bucket folder); the server answers 400. */
export class UnstorableNameError extends Error {
  override name = 'UnstorableNameError';
}

/** Where the test server keeps objects: in memory, or files in a directory. */
export interface ObjectBacking {
  /** All object names of a bucket, sorted (GCS lists in lexicographic order). */
  list(bucket: string): Promise<string[]>;
  get(bucket: string, name: string): Promise<StoredObject | null>;
  put(bucket: string, name: string, bytes: Uint8Array, contentType: string): Promise<StoredObject>;
  delete(bucket: string, name: string): Promise<boolean>;
  /** Every bucket's objects, for the server's `objects()` inspection. */
  buckets(): Promise<string[]>;
}

/** Code-unit order, which for the ASCII names used here is GCS's byte order. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function createMemoryBacking(): ObjectBacking {
  const buckets = new Map<string, Map<string, StoredObject>>();
  let generation = 1_700_000_000_000_000n;
  return {
    async list(bucket) {
      return [...(buckets.get(bucket)?.keys() ?? [])].sort(byName);
    },
    async get(bucket, name) {
      return buckets.get(bucket)?.get(name) ?? null;
    },
    async put(bucket, name, bytes, contentType) {
      let objects = buckets.get(bucket);
      if (objects === undefined) {
        objects = new Map();
        buckets.set(bucket, objects);
      }
      generation += 1n;
      const object = { bytes: new Uint8Array(bytes), contentType, generation, updated: new Date() };
      objects.set(name, object);
      return object;
    },
    async delete(bucket, name) {
      return buckets.get(bucket)?.delete(name) ?? false;
    },
    async buckets() {
      return [...buckets.keys()].sort(byName);
    },
  };
}

/**
 * Objects as files. With `bucket`, `directory` is that bucket's root and no other bucket exists
 * (serve a folder written with the GCS layout, e.g. the devnet mirror). Without, each bucket is
 * a subfolder `{directory}/{bucket}/`. Object names map to relative paths; names that would leave
 * the bucket folder (`..`, absolute, NUL) are refused by the server before reaching here.
 */
export function createDirectoryBacking(directory: string, onlyBucket?: string): ObjectBacking {
  const root = resolve(directory);
  const bucketRoot = (bucket: string): string | null => {
    if (onlyBucket !== undefined) return bucket === onlyBucket ? root : null;
    return join(root, bucket);
  };
  const pathOf = (bucket: string, name: string): string | null => {
    const base = bucketRoot(bucket);
    if (base === null) return null;
    const full = resolve(base, name);
    const rel = relative(base, full);
    return rel === '' || rel.startsWith(`..${sep}`) || rel === '..' ? null : full;
  };

  async function walk(base: string, dir: string, out: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(base, full, out);
      // Hidden files are in-flight temp files of atomic writers.
      else if (entry.isFile() && !entry.name.startsWith('.'))
        out.push(relative(base, full).split(sep).join('/'));
    }
  }

  return {
    async list(bucket) {
      const base = bucketRoot(bucket);
      if (base === null) return [];
      const out: string[] = [];
      await walk(base, base, out);
      return out.sort(byName);
    },
    async get(bucket, name) {
      const path = pathOf(bucket, name);
      if (path === null) return null;
      try {
        const info = await stat(path);
        if (!info.isFile()) return null;
        const bytes = await readFile(path);
        return {
          bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          contentType: 'application/octet-stream',
          generation: BigInt(Math.floor(info.mtimeMs * 1000)),
          updated: info.mtime,
        };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw error;
      }
    },
    async put(bucket, name, bytes, contentType) {
      const path = pathOf(bucket, name);
      if (path === null)
        throw new UnstorableNameError(
          `object name ${JSON.stringify(name)} is not storable in bucket ${bucket}`,
        );
      await mkdir(dirname(path), { recursive: true });
      const temp = join(dirname(path), `.upload.${randomBytes(6).toString('hex')}.tmp`);
      await writeFile(temp, bytes);
      await rename(temp, path);
      const info = await stat(path);
      return {
        bytes,
        contentType,
        generation: BigInt(Math.floor(info.mtimeMs * 1000)),
        updated: info.mtime,
      };
    },
    async delete(bucket, name) {
      const path = pathOf(bucket, name);
      if (path === null) return false;
      try {
        await stat(path);
      } catch {
        return false;
      }
      await rm(path, { force: true });
      return true;
    },
    async buckets() {
      if (onlyBucket !== undefined) return [onlyBucket];
      try {
        const entries = await readdir(root, { withFileTypes: true });
        return entries
          .filter((e) => e.isDirectory())
          .map((e) => e.name)
          .sort(byName);
      } catch {
        return [];
      }
    },
  };
}
