import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBatchFilename } from '@synddb/protocol';
import { BatchMirrorError } from '../errors';

/**
 * Mirrors the storage's *served* view into a directory with the GCS object layout
 * `{directory}/{prefix}/batches/{start:012}_{end:012}.cbor.zst` (docs/protocol.md#gcs-layout), so
 * the validator's local-directory and GCS-emulator fetchers read exactly what `/storage` serves,
 * faults included.
 *
 * Writes are synchronous and atomic (temp file + rename): when a flush returns, the object is
 * complete on disk, and a validator listing the directory concurrently never sees half a file.
 */
export class GcsDirectoryMirror {
  readonly batchesDirectory: string;
  /** The object name currently on disk for each batch start. */
  private readonly written = new Map<bigint, string>();

  constructor(
    directory: string,
    readonly prefix: string,
  ) {
    this.batchesDirectory = join(directory, prefix, 'batches');
    try {
      mkdirSync(this.batchesDirectory, { recursive: true });
    } catch (cause) {
      throw new BatchMirrorError(`cannot create ${this.batchesDirectory}`, { cause });
    }
  }

  /** Makes the directory show `batch` under `start`, or nothing when `batch` is undefined. */
  sync(start: bigint, batch: { end: bigint; blob: Uint8Array } | undefined): void {
    const previous = this.written.get(start);
    const next = batch === undefined ? undefined : formatBatchFilename(start, batch.end);
    if (previous !== undefined && previous !== next) {
      this.remove(previous);
      this.written.delete(start);
    }
    if (batch !== undefined && next !== undefined) {
      const target = join(this.batchesDirectory, next);
      const temp = join(this.batchesDirectory, `.${next}.${process.pid}.tmp`);
      try {
        writeFileSync(temp, batch.blob);
        renameSync(temp, target);
      } catch (cause) {
        rmSync(temp, { force: true });
        throw new BatchMirrorError(`cannot write ${target}`, { cause });
      }
      this.written.set(start, next);
    }
  }

  private remove(filename: string): void {
    const path = join(this.batchesDirectory, filename);
    try {
      rmSync(path, { force: true });
    } catch (cause) {
      throw new BatchMirrorError(`cannot remove ${path}`, { cause });
    }
  }
}
