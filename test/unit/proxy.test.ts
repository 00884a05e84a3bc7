import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LlmClient, NetworkError, collect, resolveProxy } from '../../src/core';
import { ConnectProxy } from '../server/connect-proxy';
import { ask, rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
let proxy: ConnectProxy;
beforeAll(async () => {
  proxy = await ConnectProxy.start();
});
afterAll(() => proxy.close());

async function through(options: ConstructorParameters<typeof LlmClient>[0]): Promise<string> {
  const client = new LlmClient(options);
  try {
    return (await collect(client.stream(ask(), { endpoint: endpoint('openai') }))).text;
  } finally {
    await client.close();
  }
}

describe('resolveProxy', () => {
  test('an explicit proxy wins over the environment and keeps its no-proxy list', () => {
    expect(
      resolveProxy(
        { proxy: 'http://p:1', noProxy: ['internal.example'] },
        { HTTPS_PROXY: 'http://env:2', NO_PROXY: 'localhost' },
      ),
    ).toEqual({
      httpProxy: 'http://p:1',
      httpsProxy: 'http://p:1',
      noProxy: 'internal.example,localhost',
      strictSSL: true,
    });
  });

  test('the environment is read when nothing is set, lower case first', () => {
    expect(resolveProxy({}, { https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' })).toMatchObject({
      httpsProxy: 'http://a:1',
      httpProxy: undefined,
    });
    expect(resolveProxy({}, {})).toBeUndefined();
    expect(resolveProxy({ useEnvironment: false }, { HTTP_PROXY: 'http://a:1' })).toBeUndefined();
  });

  test('proxyStrictSSL: false is carried', () => {
    expect(resolveProxy({ proxy: 'http://p:1', strictSSL: false }, {})?.strictSSL).toBe(false);
  });
});

describe('through a real CONNECT proxy on loopback', () => {
  test('requests tunnel through the configured proxy', async () => {
    const before = proxy.tunnels.length;
    expect(await through({ proxy: { proxy: proxy.url, useEnvironment: false } })).toBe('Hello, world!');
    expect(proxy.tunnels.slice(before)).toEqual([new URL(server().origin).host]);
    expect(server().requests).toHaveLength(1);
  });

  test('hosts on the no-proxy list go direct', async () => {
    const before = proxy.tunnels.length;
    expect(await through({ proxy: { proxy: proxy.url, noProxy: ['127.0.0.1'], useEnvironment: false } })).toBe(
      'Hello, world!',
    );
    expect(proxy.tunnels.length).toBe(before);
  });

  test('a proxy that refuses the tunnel is a NetworkError that says so', async () => {
    proxy.refuseWith = 403;
    try {
      const client = new LlmClient({ proxy: { proxy: proxy.url, useEnvironment: false }, retry: { maxAttempts: 1 } });
      const error = await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai') })));
      await client.close();
      expect(error).toBeInstanceOf(NetworkError);
      expect(error.message).toMatch(
        /The proxy refused to connect to OpenAI-compatible API at 127\.0\.0\.1:\d+ \(it answered 403\)/,
      );
      expect(server().requests).toHaveLength(0);
    } finally {
      proxy.refuseWith = undefined;
    }
  });

  test('cancelling through the proxy still closes the connection at the server', async () => {
    server().respond({ tokens: ['a', 'b'], stallAfter: 1 });
    const client = new LlmClient({ proxy: { proxy: proxy.url, useEnvironment: false } });
    const controller = new AbortController();
    const disconnected = server().waitForDisconnect();
    const call = (async () => {
      for await (const event of client.stream(ask(), { endpoint: endpoint('openai'), signal: controller.signal }))
        if (event.type === 'text') controller.abort();
    })();
    await rejection(call);
    await disconnected;
    await client.close();
    expect(server().disconnects).toBe(1);
  });
});
