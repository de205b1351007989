// The pool <-> worker framing on a real socket: JSON lines, and frames whose raw payload follows
// their line, split at every possible place by the sender.
import { connect, createServer, type Socket } from 'node:net';
import { onCleanup } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { readFrames, writeFrame, writeLine } from './line-channel';

/** A connected pair of sockets on loopback. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const other = await accepted;
  onCleanup(() => {
    client.destroy();
    other.destroy();
  });
  return [client, other];
}

/** The bytes `writeLine` / `writeFrame` put on the wire, built by hand. */
const frameBytes = (value: object, payload?: Buffer) =>
  payload === undefined
    ? Buffer.from(`${JSON.stringify(value)}\n`)
    : Buffer.concat([
        Buffer.from(`${JSON.stringify({ ...value, payloadBytes: payload.byteLength })}\n`),
        payload,
      ]);

describe('readFrames', () => {
  it('reads lines and payload frames whole and in order, however the bytes are split', async () => {
    const rows = Buffer.from(
      JSON.stringify([['é漢字🙂\n"quoted"'], [1, null, 'x'.repeat(70_000)]]),
    );
    const frames: [object, Buffer | undefined][] = [
      [{ ready: true }, undefined],
      [{ id: 1, ok: true, columns: ['a'] }, rows],
      [{ id: 2, ok: true, columns: [] }, Buffer.alloc(0)],
      [{ id: 3, ok: false, code: 'QUERY_SQL', message: 'line\nbreak' }, undefined],
      [{ id: 4, ok: true, columns: ['b'] }, Buffer.from('[[1]]')],
    ];
    const wire = Buffer.concat(frames.map(([v, p]) => frameBytes(v, p)));
    for (const step of [1, 7, 4096, wire.length]) {
      const [a, b] = await socketPair();
      const got: [unknown, Buffer | undefined][] = [];
      readFrames(
        b,
        (value, payload) => got.push([value, payload]),
        (reason) => got.push(['bad', Buffer.from(reason)]),
      );
      for (let i = 0; i < wire.length; i += step) {
        a.write(wire.subarray(i, i + step));
        // separate chunks on the reading side too
        if (step < 100 && i % (step * 50) === 0) await new Promise((r) => setImmediate(r));
      }
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(frames.length);
      expect(
        got.map(([v, p]) => {
          const { payloadBytes: _n, ...rest } = v as { payloadBytes?: number };
          return [rest, p?.toString('utf8')];
        }),
        `step ${step}`,
      ).toEqual(frames.map(([v, p]) => [v, p?.toString('utf8')]));
    }
  });

  it('writeLine and writeFrame produce what readFrames reads', async () => {
    const [a, b] = await socketPair();
    const got: [unknown, string | undefined][] = [];
    readFrames(
      b,
      (value, payload) => got.push([value, payload?.toString()]),
      () => {},
    );
    writeLine(a, { hello: 'abc' });
    writeFrame(a, { id: 9 }, Buffer.from('[["ü"]]'));
    writeLine(a, { id: 10, ok: false });
    await expect.poll(() => got.length).toBe(3);
    expect(got).toEqual([
      [{ hello: 'abc' }, undefined],
      [{ id: 9, payloadBytes: Buffer.byteLength('[["ü"]]') }, '[["ü"]]'],
      [{ id: 10, ok: false }, undefined],
    ]);
  });

  it('ends on a line that is not JSON, a bad payload length, or an overlong line', async () => {
    for (const [wire, reason] of [
      ['not json\n', /not JSON/],
      ['{"payloadBytes":-1}\n', /payload length/],
      ['{"payloadBytes":1.5}\n', /payload length/],
      ['{"payloadBytes":4503599627370496}\n', /payload length|no memory/],
      ['x'.repeat(300), /longer than 256/],
    ] as const) {
      const [a, b] = await socketPair();
      const bad: string[] = [];
      const frames: unknown[] = [];
      readFrames(
        b,
        (v) => frames.push(v),
        (r) => bad.push(r),
        () => 256,
      );
      a.write(wire);
      a.write('{"after":true}\n');
      await expect.poll(() => bad.length).toBe(1);
      expect(bad[0]).toMatch(reason);
      expect(frames).toEqual([]);
    }
  });
});
