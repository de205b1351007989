import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import {
  BatchTooLargeError,
  FetcherConfigError,
  FsReadError,
  InvalidBatchPathError,
} from '../errors';
import { checkIntegerOption, DEFAULT_MAX_BATCH_BYTES } from '../limits';
import { normalizePrefix } from '../object-store/batch-object-name';
import type { BatchObjectStore } from '../object-store/batch-object-store';
import { createObjectStoreFetcher } from '../object-store/create-object-store-fetcher';
import type { StorageFetcher } from '../types';

export interface FsFetcherOptions {
  /** Root directory; batches live in `{directory}/{prefix}/batches/`. */
  directory: string;
  /** Same meaning as the GCS prefix. Default 'sequencer'. */
  prefix?: string;
  /** Largest batch file accepted. Default 64 MiB. */
  maxBatchBytes?: number;
  /** Cap on a decompressed batch in `getMessage`. Default: @synddb/protocol's (256 MiB). */
  maxDecompressedBytes?: number;
}

/**
 * A StorageFetcher over a local directory with the GCS object layout (archives, air-gapped
 * restores, tests). Only regular files are listed, and reads refuse symlinks (O_NOFOLLOW) and any
 * name resolving outside the batches folder.
 */
export function createFsFetcher(options: FsFetcherOptions): StorageFetcher {
  if (typeof options.directory !== 'string' || options.directory === '') {
    throw new FetcherConfigError('directory is required');
  }
  const root = resolve(options.directory);
  const prefix = normalizePrefix(options.prefix ?? 'sequencer');
  const maxBatchBytes = checkIntegerOption(
    'maxBatchBytes',
    options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    1,
  );
  return createObjectStoreFetcher(createFsObjectStore(root), {
    prefix,
    maxBatchBytes,
    maxDecompressedBytes:
      options.maxDecompressedBytes === undefined
        ? undefined
        : checkIntegerOption('maxDecompressedBytes', options.maxDecompressedBytes, 1),
  });
}

function createFsObjectStore(root: string): BatchObjectStore {
  /** Resolves an object name under root, refusing anything that escapes it. */
  function pathOf(name: string): string {
    const full = resolve(root, name);
    const rel = relative(root, full);
    if (
      name.includes('\0') ||
      rel === '' ||
      rel.startsWith(`..${sep}`) ||
      rel === '..' ||
      isAbsolute(rel)
    ) {
      throw new InvalidBatchPathError(name, 'resolves outside the directory');
    }
    return full;
  }

  /** Opens a batch file for reading: a regular file, not a symlink; null when absent. */
  async function openFile(name: string, signal: AbortSignal | undefined) {
    signal?.throwIfAborted();
    const path = pathOf(name);
    let handle: import('node:fs/promises').FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isNotFound(error)) return null;
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new InvalidBatchPathError(name, 'is a symbolic link');
      }
      throw new FsReadError(path, error);
    }
    return { handle, path };
  }

  /** `name`'s file opened and checked (a regular file of at most maxBytes); null when missing. */
  async function openChecked(name: string, maxBytes: number, signal: AbortSignal | undefined) {
    const opened = await openFile(name, signal);
    if (opened === null) return null;
    const { handle, path } = opened;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new InvalidBatchPathError(name, 'is not a regular file');
      if (stat.size > maxBytes) throw new BatchTooLargeError(path, maxBytes, stat.size);
      return { handle, path, size: stat.size };
    } catch (error) {
      await handle.close();
      if (error instanceof BatchTooLargeError || error instanceof InvalidBatchPathError)
        throw error;
      throw new FsReadError(path, error);
    }
  }

  return {
    kind: 'fs',

    async open(name, { maxBytes, signal }) {
      const file = await openChecked(name, maxBytes, signal);
      if (file === null) return null;
      return { size: file.size, body: readChunks(file.handle, file.path, file.size, signal) };
    },

    async listNames(folder, { signal }) {
      signal?.throwIfAborted();
      const dir = pathOf(folder);
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) return [];
        throw new FsReadError(dir, error);
      }
      signal?.throwIfAborted();
      return entries.filter((e) => e.isFile()).map((e) => `${folder}${e.name}`);
    },

    async read(name, { maxBytes, signal }) {
      const file = await openChecked(name, maxBytes, signal);
      if (file === null) return null;
      const { handle, path, size } = file;
      try {
        // Read at most maxBytes + 1 so a file that grew after fstat is still caught.
        const buffer = new Uint8Array(size + 1 > maxBytes ? maxBytes + 1 : size + 1);
        let total = 0;
        for (;;) {
          signal?.throwIfAborted();
          const { bytesRead } = await handle.read(buffer, total, buffer.length - total, null);
          if (bytesRead === 0) break;
          total += bytesRead;
          if (total > maxBytes) throw new BatchTooLargeError(path, maxBytes, total);
          if (total > size) throw new FsReadError(path, new Error('file grew while being read'));
        }
        return buffer.subarray(0, total);
      } catch (error) {
        if (error instanceof BatchTooLargeError || error instanceof InvalidBatchPathError)
          throw error;
        if (signal?.aborted) throw signal.reason;
        throw new FsReadError(path, error);
      } finally {
        await handle.close();
      }
    },
  };
}

/** Bytes read per chunk of a streamed file. */
const STREAM_CHUNK_BYTES = 1024 * 1024;

/** A batch file as a stream of chunks; the handle is closed when the stream ends or stops. */
async function* readChunks(
  handle: import('node:fs/promises').FileHandle,
  path: string,
  size: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      // A fresh buffer per chunk: the consumer may keep a chunk while it reads the next.
      const buffer = new Uint8Array(STREAM_CHUNK_BYTES);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        throw new FsReadError(path, error);
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > size) throw new FsReadError(path, new Error('file grew while being read'));
      yield buffer.subarray(0, bytesRead);
    }
    if (total < size) throw new FsReadError(path, new Error('file shrank while being read'));
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
