import { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { LlmClient, ResponseCache, collect, type StreamEvent } from '../../src/core';
import { rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowgate-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const deterministic = { messages: [{ role: 'user' as const, content: 'What is 2+2?' }], temperature: 0 };

async function withClient<T>(cache: ResponseCache, run: (client: LlmClient) => Promise<T>): Promise<T> {
  const client = new LlmClient({ cache });
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

test('a deterministic request is answered once; the repeat streams from the cache, marked cached', async () => {
  server().respond({ tokens: ['Four', '.'], usage: { input: 9, output: 2 } });
  await withClient(new ResponseCache(), async (client) => {
    const first = await collect(client.stream(deterministic, { endpoint: endpoint('openai') }));
    const events: StreamEvent[] = [];
    for await (const event of client.stream(deterministic, { endpoint: endpoint('openai') })) events.push(event);
    expect(server().requests).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'response', cached: true });
    const again = await collect(Readable.from(events));
    expect(again).toMatchObject({ text: first.text, usage: { inputTokens: 9, outputTokens: 2 }, finishReason: 'stop' });
    expect(client.metrics().cache).toMatchObject({ hits: 1, misses: 1, entries: 1 });
  });
});

test('only deterministic requests, unless a call opts in; bypass skips it', async () => {
  await withClient(new ResponseCache(), async (client) => {
    const creative = { messages: deterministic.messages };
    await collect(client.stream(creative, { endpoint: endpoint('ollama') }));
    await collect(client.stream(creative, { endpoint: endpoint('ollama') }));
    expect(server().requests).toHaveLength(2);
    await collect(client.stream(creative, { endpoint: endpoint('ollama'), cache: 'use' }));
    await collect(client.stream(creative, { endpoint: endpoint('ollama'), cache: 'use' }));
    expect(server().requests).toHaveLength(3);
    await collect(client.stream(deterministic, { endpoint: endpoint('ollama') }));
    await collect(client.stream(deterministic, { endpoint: endpoint('ollama'), cache: 'bypass' }));
    expect(server().requests).toHaveLength(5);
  });
});

test('identical requests in flight together make one upstream call', async () => {
  server().respond({ tokens: ['shared'], firstTokenDelayMs: 150 });
  await withClient(new ResponseCache(), async (client) => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => collect(client.stream(deterministic, { endpoint: endpoint('anthropic') }))),
    );
    expect(answers.map((a) => a.text)).toEqual(Array(5).fill('shared'));
    expect(server().requests).toHaveLength(1);
  });
});

test('a request waiting for an identical one still stops at once when cancelled', async () => {
  server().respond({ tokens: ['slow'], firstTokenDelayMs: 2000 });
  await withClient(new ResponseCache(), async (client) => {
    const leader = collect(client.stream(deterministic, { endpoint: endpoint('openai') }));
    while (server().requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const controller = new AbortController();
    const follower = collect(client.stream(deterministic, { endpoint: endpoint('openai'), signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    expect((await rejection(follower)).name).toBe('CancelledError');
    expect(performance.now() - started).toBeLessThan(1500);
    expect((await leader).text).toBe('slow');
  });
});

test('answers survive on disk for the next session; errors are never cached', async () => {
  server().respond({ status: 500 });
  await withClient(new ResponseCache({ dir }), async (client) => {
    await rejection(collect(client.stream(deterministic, { endpoint: endpoint('openai'), maxAttempts: 1 })));
    server().respond({ tokens: ['kept'] });
    await collect(client.stream(deterministic, { endpoint: endpoint('openai') }));
  });
  expect(server().requests).toHaveLength(2);
  const fromDisk = await withClient(new ResponseCache({ dir }), (client) =>
    collect(client.stream(deterministic, { endpoint: endpoint('openai') })),
  );
  expect(fromDisk.text).toBe('kept');
  expect(server().requests).toHaveLength(2);
});

test('memory is bounded by bytes (least recently used goes first), entries expire, clear empties it', async () => {
  const cache = new ResponseCache({ maxMemoryBytes: 600, ttlMs: 60_000 });
  const answer = (text: string) => ({ text, usage: {} });
  await cache.set('a', answer('x'.repeat(200)));
  await cache.set('b', answer('y'.repeat(200)));
  await cache.get('a'); // a is now the most recently used
  await cache.set('c', answer('z'.repeat(200)));
  expect(await cache.get('b')).toBeUndefined();
  expect((await cache.get('a'))?.text).toBe('x'.repeat(200));
  expect(cache.stats().bytes).toBeLessThanOrEqual(600);
  const expired = new ResponseCache({ ttlMs: -1 });
  await expired.set('k', answer('old'));
  expect(await expired.get('k')).toBeUndefined();
  await cache.clear();
  expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
});

test('the key covers model, messages and parameters, and never the API key', () => {
  const base = { provider: 'openai' as const, baseUrl: 'https://x/v1', model: 'm' };
  const key = ResponseCache.key({ ...base, apiKey: 'sk-one' }, deterministic);
  expect(ResponseCache.key({ ...base, apiKey: 'sk-two' }, deterministic)).toBe(key);
  expect(ResponseCache.key({ ...base, model: 'other' }, deterministic)).not.toBe(key);
  expect(ResponseCache.key(base, { ...deterministic, maxTokens: 5 })).not.toBe(key);
  expect(key).toMatch(/^[0-9a-f]{64}$/);
});

test("the key covers the endpoint's params (in any order), never its header values", () => {
  const base = { provider: 'openai' as const, baseUrl: 'https://x/v1', model: 'm' };
  const key = ResponseCache.key(base, deterministic);
  expect(ResponseCache.key({ ...base, params: {} }, deterministic)).toBe(key);
  const tuned = ResponseCache.key({ ...base, params: { top_p: 0.5, stop: ['\n'] } }, deterministic);
  expect(tuned).not.toBe(key);
  expect(ResponseCache.key({ ...base, params: { stop: ['\n'], top_p: 0.5 } }, deterministic)).toBe(tuned);
  expect(ResponseCache.key({ ...base, params: { top_p: 0.9, stop: ['\n'] } }, deterministic)).not.toBe(tuned);
  expect(ResponseCache.key({ ...base, headers: { 'api-key': 'az-1' } }, deterministic)).toBe(
    ResponseCache.key({ ...base, headers: { 'api-key': 'az-2' } }, deterministic),
  );
});

test("temperature 0 in the endpoint's params makes a request deterministic for auto", async () => {
  await withClient(new ResponseCache(), async (client) => {
    const plain = { messages: deterministic.messages };
    for (const provider of ['openai', 'ollama'] as const) {
      const params = provider === 'ollama' ? { options: { temperature: 0 } } : { temperature: 0 };
      await collect(client.stream(plain, { endpoint: endpoint(provider, { params }) }));
      await collect(client.stream(plain, { endpoint: endpoint(provider, { params }) }));
    }
    expect(server().requests).toHaveLength(2);
    await collect(client.stream(plain, { endpoint: endpoint('openai', { params: { temperature: 0.8 } }) }));
    await collect(client.stream(plain, { endpoint: endpoint('openai', { params: { temperature: 0.8 } }) }));
    expect(server().requests).toHaveLength(4);
  });
});
