/** The JSON-RPC fault proxy forwards, and drops or delays the configured share of requests. */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../cleanup/on-cleanup';
import { startJsonRpcFaultProxy } from './start-json-rpc-fault-proxy';

describe('startJsonRpcFaultProxy', () => {
  it('forwards JSON-RPC and drops a seeded share of requests', async () => {
    const node = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{"jsonrpc":"2.0","id":1,"result":"0x7a69"}'));
    });
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
    onCleanup(() => new Promise<void>((r) => node.close(() => r())));
    const proxy = await startJsonRpcFaultProxy({
      upstream: `http://127.0.0.1:${(node.address() as AddressInfo).port}`,
      dropRate: 0.3,
      delayRate: 0.3,
      maxDelayMs: 5,
    });
    onCleanup(() => proxy.close());
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 60; i++) {
      try {
        const r = await fetch(proxy.url, {
          method: 'POST',
          body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
        });
        expect(((await r.json()) as { result: string }).result).toBe('0x7a69');
        ok++;
      } catch {
        failed++;
      }
    }
    const stats = proxy.stats();
    expect(stats.requests).toBe(60);
    expect(stats.dropped).toBe(failed);
    expect(failed).toBeGreaterThan(5);
    expect(ok).toBeGreaterThan(20);
    expect(stats.byMethod.eth_chainId).toBe(60);
  });
});
