import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { BindAddressError, ListenError } from '../errors';
import { parseBindAddress } from './parse-bind-address';
import { serveValidatorApi } from './serve-validator-api';

describe('parseBindAddress', () => {
  it('accepts the reference forms', () => {
    expect(parseBindAddress('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseBindAddress(':8081')).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(parseBindAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseBindAddress('localhost:65535')).toEqual({ host: 'localhost', port: 65535 });
  });

  it.each(['8080', '::1:80', '127.0.0.1:', '127.0.0.1:65536', 'h:-1', '[::1]80', ' :80x'])(
    'rejects %j',
    (address) => {
      expect(() => parseBindAddress(address)).toThrow(BindAddressError);
    },
  );
});

describe('serveValidatorApi', () => {
  it('serves, reports the URL and closes idempotently', async () => {
    const app = new Hono().get('/x', (c) => c.text('ok'));
    const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
    expect(served.url).toBe(`http://127.0.0.1:${served.port}`);
    expect(await (await fetch(`${served.url}/x`)).text()).toBe('ok');
    await Promise.all([served.close(), served.close()]);
    await expect(fetch(`${served.url}/x`)).rejects.toThrow();
  });

  it('fails with ListenError when the port is taken', async () => {
    const app = new Hono();
    const first = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
    try {
      const error = await serveValidatorApi(app, {
        bindAddress: `127.0.0.1:${first.port}`,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ListenError);
      expect((error as ListenError).message).toMatch(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
