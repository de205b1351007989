// Starts storage-server.ts in its own process with a workload (a snapshot image, then one
// changeset per message) and returns where it serves the storage API. Shared by the benches of
// @synddb/sync and synddb-validator.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface StorageServer {
  url: string;
  /** The sequencer key, `0x` + 128 hex. */
  pubkey: string;
  /** The last published sequence. */
  head: bigint;
  /** The server's process id (e.g. to read its CPU time). */
  pid: number;
  stop(): void;
}

/** Writes `[image, ...changesets]` to `file` in the server's input format and starts it. */
export async function startStorageServer(
  file: string,
  image: Uint8Array,
  changesets: readonly Uint8Array[],
): Promise<StorageServer> {
  const parts = [image, ...changesets];
  const out = Buffer.alloc(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  out.writeUInt32BE(parts.length, 0);
  let offset = 4;
  for (const part of parts) {
    out.writeUInt32BE(part.length, offset);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  writeFileSync(file, out);
  const script = fileURLToPath(new URL('./storage-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(buffered.slice(0, newline));
    });
    child.on('exit', (code) => reject(new Error(`storage server exited ${code}`)));
  });
  const info = JSON.parse(line) as { url: string; pubkey: string; head: string };
  return {
    url: info.url,
    pubkey: info.pubkey,
    head: BigInt(info.head),
    pid: child.pid ?? -1,
    stop: () => child.kill('SIGTERM'),
  };
}
