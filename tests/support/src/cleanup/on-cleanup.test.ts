import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { onCleanup } from './on-cleanup';
import { tempDir } from './temp-dir';

// The tests below run in order and look at what the previous one left behind.
const ran: string[] = [];
let fileDir: string;
let testDir: string;

beforeAll(() => {
  fileDir = tempDir('synddb-cleanup-file-');
  onCleanup(() => ran.push('file'));
});
beforeEach(() => {
  onCleanup(() => ran.push('beforeEach'));
});

describe('onCleanup and tempDir', () => {
  it('registers cleanups during a test', () => {
    testDir = tempDir('synddb-cleanup-test-');
    writeFileSync(join(testDir, 'f'), 'x');
    onCleanup(() => ran.push('first'));
    onCleanup(async () => {
      await Promise.resolve();
      ran.push('second');
    });
    expect(ran).toEqual([]);
  });

  it('ran them after that test, last registered first, and kept the file-scoped ones', () => {
    expect(ran).toEqual(['second', 'first', 'beforeEach']);
    expect(existsSync(testDir)).toBe(false);
    expect(existsSync(fileDir)).toBe(true);
  });

  it('honours an explicit scope', () => {
    onCleanup(() => ran.push('late file'), { scope: 'file' });
    ran.length = 0;
  });

  it('did not run a file-scoped cleanup registered in a test', () => {
    expect(ran).toEqual(['beforeEach']);
  });
});
