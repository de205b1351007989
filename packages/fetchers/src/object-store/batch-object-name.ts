import { type BatchInfo, formatBatchFilename, parseBatchFilename } from '@synddb/protocol';
import { FetcherConfigError } from '../errors';

/**
 * Normalizes a store prefix: no leading/trailing '/', no empty, '.' or '..' segments, no
 * backslashes. '' means the batches folder sits at the root (`batches/...`).
 */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.split('/')) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      segment.includes('\\') ||
      segment.includes('\0')
    ) {
      throw new FetcherConfigError(`invalid storage prefix ${JSON.stringify(prefix)}`);
    }
  }
  return trimmed;
}

/** `{prefix}/batches/` (docs/protocol.md#gcs-layout), the listing prefix of a store. */
export function batchesFolder(prefix: string): string {
  return prefix === '' ? 'batches/' : `${prefix}/batches/`;
}

/**
 * The object name to read for `info`: its own `path` when that is a batch name directly inside
 * this store's folder naming the same range (listings may carry non-canonical widths such as
 * `+5` or extra zero padding), else the canonical `{start:012}_{end:012}.cbor.zst` name. Paths
 * from another store (an HTTP decimal start, another prefix) thus map onto this store's layout.
 */
export function objectNameFor(folder: string, info: BatchInfo): string {
  if (info.path.startsWith(folder)) {
    const base = info.path.slice(folder.length);
    const parsed = isPlainName(base) ? parseBatchFilename(base) : null;
    if (parsed !== null && parsed.start === info.startSequence && parsed.end === info.endSequence)
      return info.path;
  }
  return `${folder}${formatBatchFilename(info.startSequence, info.endSequence)}`;
}

/** A BatchInfo for an object name inside `folder`, or null for names that are not batches. */
export function batchInfoFromObjectName(folder: string, name: string): BatchInfo | null {
  if (!name.startsWith(folder)) return null;
  const base = name.slice(folder.length);
  if (!isPlainName(base)) return null;
  const parsed = parseBatchFilename(base);
  return parsed === null
    ? null
    : { startSequence: parsed.start, endSequence: parsed.end, path: name };
}

/** Object names used as file names must not contain separators or NULs. */
function isPlainName(base: string): boolean {
  return base !== '' && !base.includes('/') && !base.includes('\\') && !base.includes('\0');
}
