import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBatchFilename } from '@synddb/protocol';
import { FsWriteError, InvalidBatchRangeError } from '../errors';
import { batchesFolder, normalizePrefix } from '../object-store/batch-object-name';

/**
 * Publishes a batch blob as `{directory}/{prefix}/batches/{start:012}_{end:012}.cbor.zst`,
 * atomically: the bytes go to a hidden temp file in the same folder, then a rename makes the
 * complete object visible at once (a concurrent lister never sees half a file; temp names
 * start with '.' and do not parse as batches). Returns the full path written.
 */
export async function writeBatchFile(
  directory: string,
  prefix: string,
  start: bigint,
  end: bigint,
  blob: Uint8Array,
): Promise<string> {
  if (end < start) throw new InvalidBatchRangeError(start, end, formatBatchFilename(start, end));
  const folder = join(directory, batchesFolder(normalizePrefix(prefix)));
  const name = formatBatchFilename(start, end);
  const target = join(folder, name);
  const temp = join(folder, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(temp, blob, { flag: 'wx' });
    await rename(temp, target);
  } catch (cause) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new FsWriteError(target, cause);
  }
  return target;
}
