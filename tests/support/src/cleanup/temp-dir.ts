import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OnCleanupOptions, onCleanup } from './on-cleanup';

/**
 * A fresh directory under the OS temp directory (`{tmpdir}/{prefix}XXXXXX`), removed with
 * everything in it after the current test (or after the file, see `onCleanup`).
 */
export function tempDir(prefix = 'synddb-test-', options: OnCleanupOptions = {}): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(directory, { recursive: true, force: true }), options);
  return directory;
}
