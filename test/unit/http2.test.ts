import { afterAll, beforeAll, expect, test } from 'vitest';
import { CancelledError, LlmClient, NetworkError, collect } from '../../src/core';
import { selfSignedCertificate } from '../server/certificate';
import { TestLlmServer } from '../server/llm-server';
import { ask, rejection } from './helpers';

let server: TestLlmServer;
let certificate: { key: string; cert: string };
beforeAll(async () => {
  certificate = selfSignedCertificate();
  server = await TestLlmServer.start(certificate);
});
afterAll(() => server.close());

const endpoint = (http2: boolean) => ({
  provider: 'openai' as const,
  baseUrl: `${server.origin}/v1`,
  model: 'm',
  http2,
});

test('http2: true speaks HTTP/2 over TLS; the default stays on HTTP/1.1', async () => {
  const client = new LlmClient({ ca: certificate.cert });
  try {
    server.reset();
    expect((await collect(client.stream(ask(), { endpoint: endpoint(true) }))).text).toBe('Hello, world!');
    expect((await collect(client.stream(ask(), { endpoint: endpoint(false) }))).text).toBe('Hello, world!');
    expect(server.requests.map((r) => r.httpVersion)).toEqual(['2.0', '1.1']);
  } finally {
    await client.close();
  }
});

test('many streams share one HTTP/2 connection', async () => {
  const client = new LlmClient({ ca: certificate.cert });
  try {
    server.reset();
    server.respond({ tokens: ['a', 'b'], tokenDelayMs: 20 });
    await Promise.all(Array.from({ length: 8 }, () => collect(client.stream(ask(), { endpoint: endpoint(true) }))));
    expect(server.requests.every((r) => r.httpVersion === '2.0')).toBe(true);
    expect(server.openConnections).toBe(1);
  } finally {
    await client.close();
  }
});

test('Stop on an HTTP/2 stream: the server sees the stream close', async () => {
  const client = new LlmClient({ ca: certificate.cert });
  try {
    server.reset();
    server.respond({ tokens: ['a', 'b'], stallAfter: 1 });
    const controller = new AbortController();
    const disconnected = server.waitForDisconnect();
    const error = await rejection(
      (async () => {
        for await (const event of client.stream(ask(), { endpoint: endpoint(true), signal: controller.signal }))
          if (event.type === 'text') controller.abort();
      })(),
    );
    expect(error).toBeInstanceOf(CancelledError);
    await disconnected;
  } finally {
    await client.close();
  }
});

test('an untrusted certificate is a TLS NetworkError that says so, not retried', async () => {
  const client = new LlmClient();
  try {
    const error = await rejection(collect(client.stream(ask(), { endpoint: endpoint(false) })));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toMatch(/TLS handshake failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    expect((error as NetworkError).retryable).toBe(false);
  } finally {
    await client.close();
  }
});
