import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBatchFilename } from '@synddb/protocol';
import { tempDir } from '@synddb/test-support';
import { beforeEach, describe, expect, it } from 'vitest';
import { V4_BLOB, v4Message, wire } from '../../test/fixtures';
import {
  BatchOverlapError,
  BatchTooLargeError,
  FetcherConfigError,
  InvalidBatchPathError,
} from '../errors';
import { createFsFetcher } from './create-fs-fetcher';
import { writeBatchFile } from './write-batch-file';

let dir: string;
beforeEach(() => {
  dir = tempDir('synddb-fs-fetcher-');
});

const folder = () => join(dir, 'sequencer', 'batches');
const put = (start: number, end: number, blob: Uint8Array = new Uint8Array([start, end])) =>
  writeBatchFile(dir, 'sequencer', BigInt(start), BigInt(end), blob);

describe('createFsFetcher', () => {
  it('lists batch files sorted by start with the object name as path, ignoring other files', async () => {
    await put(10, 19);
    await put(0, 9);
    await put(20, 20);
    await writeFile(join(folder(), 'README.txt'), 'not a batch');
    await writeFile(join(folder(), '5_x.cbor.zst'), 'bad name');
    await mkdir(join(folder(), '000000000030_000000000039.cbor.zst')); // a directory, not a file
    const list = await createFsFetcher({ directory: dir }).listBatches();
    expect(list).toEqual([
      {
        startSequence: 0n,
        endSequence: 9n,
        path: `sequencer/batches/${formatBatchFilename(0, 9)}`,
      },
      {
        startSequence: 10n,
        endSequence: 19n,
        path: `sequencer/batches/${formatBatchFilename(10, 19)}`,
      },
      {
        startSequence: 20n,
        endSequence: 20n,
        path: `sequencer/batches/${formatBatchFilename(20, 20)}`,
      },
    ]);
  });

  it('returns an empty listing when the folder does not exist yet', async () => {
    const fetcher = createFsFetcher({ directory: join(dir, 'missing') });
    expect(await fetcher.listBatches()).toEqual([]);
    expect(await fetcher.getLatestSequence()).toBeNull();
    expect(await fetcher.getMessage(0n)).toBeNull();
  });

  it('lists incrementally after a known batch', async () => {
    await put(0, 9);
    await put(10, 19);
    const fetcher = createFsFetcher({ directory: dir });
    const [first] = await fetcher.listBatches();
    expect((await fetcher.listBatches({ after: first! })).map((b) => b.startSequence)).toEqual([
      10n,
    ]);
  });

  it('honours a custom prefix and a root-level layout', async () => {
    await writeBatchFile(dir, 'archive/2024/', 0n, 1n, new Uint8Array([1]));
    await writeBatchFile(dir, '', 5n, 6n, new Uint8Array([2]));
    expect(
      (await createFsFetcher({ directory: dir, prefix: 'archive/2024' }).listBatches())[0]?.path,
    ).toBe(`archive/2024/batches/${formatBatchFilename(0, 1)}`);
    expect((await createFsFetcher({ directory: dir, prefix: '' }).listBatches())[0]?.path).toBe(
      `batches/${formatBatchFilename(5, 6)}`,
    );
  });

  it('reads a batch by path, by range (foreign BatchInfo) and null when absent', async () => {
    await put(0, 2, V4_BLOB);
    const fetcher = createFsFetcher({ directory: dir });
    const [listed] = await fetcher.listBatches();
    expect(await fetcher.getBatch(listed!)).toEqual(V4_BLOB);
    expect(await fetcher.getBatch({ startSequence: 0n, endSequence: 2n, path: '0' })).toEqual(
      V4_BLOB,
    );
    expect(await fetcher.getBatch({ startSequence: 3n, endSequence: 4n, path: '3' })).toBeNull();
  });

  it('reads non-canonical names listed by the store (Rust accepts any width)', async () => {
    await mkdir(folder(), { recursive: true });
    await writeFile(join(folder(), '7_00009.cbor.zst'), Buffer.from([9]));
    const fetcher = createFsFetcher({ directory: dir });
    const list = await fetcher.listBatches();
    expect(list).toEqual([
      { startSequence: 7n, endSequence: 9n, path: 'sequencer/batches/7_00009.cbor.zst' },
    ]);
    expect(await fetcher.getBatch(list[0]!)).toEqual(new Uint8Array([9]));
  });

  it('never follows a hostile path out of the folder', async () => {
    await writeFile(join(dir, 'secret.cbor.zst'), 'secret');
    const fetcher = createFsFetcher({ directory: dir });
    // A path outside the folder is not used: the canonical name for the range is read instead.
    const escaped = {
      startSequence: 0n,
      endSequence: 1n,
      path: 'sequencer/batches/../../secret.cbor.zst',
    };
    expect(await fetcher.getBatch(escaped)).toBeNull();
    expect(await fetcher.getBatch({ ...escaped, path: '/etc/passwd' })).toBeNull();
  });

  it('refuses symlinked batch files', async () => {
    await writeFile(join(dir, 'outside'), 'x');
    await mkdir(folder(), { recursive: true });
    await symlink(join(dir, 'outside'), join(folder(), formatBatchFilename(0, 0)));
    const fetcher = createFsFetcher({ directory: dir });
    expect(await fetcher.listBatches()).toEqual([]);
    await expect(
      fetcher.getBatch({ startSequence: 0n, endSequence: 0n, path: '0' }),
    ).rejects.toBeInstanceOf(InvalidBatchPathError);
  });

  it('enforces maxBatchBytes', async () => {
    await put(0, 0, new Uint8Array(2048));
    await put(1, 1, new Uint8Array(1024));
    const fetcher = createFsFetcher({ directory: dir, maxBatchBytes: 1024 });
    await expect(
      fetcher.getBatch({ startSequence: 0n, endSequence: 0n, path: '' }),
    ).rejects.toBeInstanceOf(BatchTooLargeError);
    expect((await fetcher.getBatch({ startSequence: 1n, endSequence: 1n, path: '' }))?.length).toBe(
      1024,
    );
  });

  it('getMessage decodes the golden v4 batch and returns each message', async () => {
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    expect(formatBatchFilename(0, 2)).toBe(wire.v4_pipeline.filename);
    const fetcher = createFsFetcher({ directory: dir });
    for (let i = 0; i < 3; i++) expect(await fetcher.getMessage(BigInt(i))).toEqual(v4Message(i));
    expect(await fetcher.getMessage(3n)).toBeNull();
    expect(await fetcher.getLatestSequence()).toBe(2n);
  });

  it('getMessage sees batches published after the first call', async () => {
    const fetcher = createFsFetcher({ directory: dir });
    expect(await fetcher.getMessage(0n)).toBeNull();
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    expect((await fetcher.getMessage(1n))?.sequence).toBe(1n);
  });

  it('getMessage reports overlapping batches', async () => {
    await put(0, 9);
    await put(5, 12);
    await expect(createFsFetcher({ directory: dir }).getMessage(6n)).rejects.toBeInstanceOf(
      BatchOverlapError,
    );
  });

  it('getMessage propagates a corrupt batch as a protocol error and retries it next time', async () => {
    await put(0, 2, new Uint8Array([1, 2, 3]));
    const fetcher = createFsFetcher({ directory: dir });
    await expect(fetcher.getMessage(0n)).rejects.toThrow();
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    expect((await fetcher.getMessage(0n))?.sequence).toBe(0n);
  });

  it('rejects invalid options', () => {
    expect(() => createFsFetcher({ directory: '' })).toThrow(FetcherConfigError);
    expect(() => createFsFetcher({ directory: dir, prefix: 'a/../b' })).toThrow(FetcherConfigError);
    expect(() => createFsFetcher({ directory: dir, maxBatchBytes: 0 })).toThrow(FetcherConfigError);
  });
});

describe('writeBatchFile', () => {
  it('writes atomically and leaves no temp files', async () => {
    const path = await put(0, 9, new Uint8Array([1, 2, 3]));
    expect(path).toBe(join(folder(), '000000000000_000000000009.cbor.zst'));
    await put(0, 9, new Uint8Array([4, 5]));
    expect(await readdir(folder())).toEqual(['000000000000_000000000009.cbor.zst']);
    const blob = await createFsFetcher({ directory: dir }).getBatch({
      startSequence: 0n,
      endSequence: 9n,
      path: '',
    });
    expect(blob).toEqual(new Uint8Array([4, 5]));
  });

  it('rejects an inverted range and a hostile prefix', async () => {
    await expect(writeBatchFile(dir, 'sequencer', 5n, 4n, new Uint8Array())).rejects.toThrow(
      /end 4 < start 5/,
    );
    await expect(writeBatchFile(dir, '../up', 0n, 0n, new Uint8Array())).rejects.toBeInstanceOf(
      FetcherConfigError,
    );
  });
});
