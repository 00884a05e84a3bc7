/**
 * The response cache shared through a real redis-server: processes asking
 * the same question at once send one request, an answer one process got is
 * there for the others, a holder that dies lets the others go on, and the
 * shared cache keeps to its byte budget.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  LlmClient,
  ResponseCache,
  collect,
  connectRedisState,
  type Endpoint,
  type RedisStateOptions,
} from '../../src/core';
import { startRedis, type RunningRedis } from '../server/redis';
import { useServer } from './helpers';

const { server, endpoint } = useServer();
let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

/** A process as far as the cache is concerned: its own client, its own in-process cache, its own Redis connection. */
async function processOf(options: RedisStateOptions = {}) {
  const state = await connectRedisState(redis.url, options);
  const client = new LlmClient({ sharedState: state, cache: new ResponseCache(), retry: { maxAttempts: 1 } });
  return { client, state, close: async () => (await client.close(), await state.close()) };
}

const question = (text: string) => ({ messages: [{ role: 'user' as const, content: text }], temperature: 0 });
const target = (): Endpoint => endpoint('openai', { apiKey: 'sk-shared-cache-0123456789', model: 'cache-model' });

describe('a response cache shared by processes', () => {
  test('three processes asking the same question at once send one request; a fourth later sends none', async () => {
    server().respond({ tokens: ['The ', 'answer.'], headersDelayMs: 300 });
    const processes = await Promise.all([processOf(), processOf(), processOf()]);
    try {
      const q = question(`same question ${Math.random()}`);
      const answers = await Promise.all(processes.map((p) => collect(p.client.stream(q, { endpoint: target() }))));
      expect(answers.map((a) => a.text)).toEqual(['The answer.', 'The answer.', 'The answer.']);
      expect(server().requests).toHaveLength(1);
      const later = await processOf();
      try {
        const events = [];
        for await (const event of later.client.stream(q, { endpoint: target() })) events.push(event);
        expect(events[0]).toMatchObject({ type: 'response', cached: true });
        expect(server().requests).toHaveLength(1);
      } finally {
        await later.close();
      }
    } finally {
      await Promise.all(processes.map((p) => p.close()));
    }
  });

  test('a process that dies holding the question lets the others ask once its lock lapses', async () => {
    const q = question(`orphaned question ${Math.random()}`);
    const key = ResponseCache.key(target(), q);
    const doomed = await processOf({ lockMs: 400 });
    const held = await doomed.state.cache.lead(key);
    expect(held).toBeDefined();
    await doomed.state.close(); // gone without releasing: its renewals stop, the lock lapses
    const survivor = await processOf();
    try {
      const started = performance.now();
      const answer = await collect(survivor.client.stream(q, { endpoint: target() }));
      expect(answer.text).toBe('Hello, world!');
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
      expect(server().requests).toHaveLength(1);
    } finally {
      await survivor.close();
      await doomed.client.close();
    }
  });

  test('the shared cache keeps to its byte budget, oldest answers out first', async () => {
    const small = await processOf({ cacheBytes: 1200 });
    try {
      const completion = (n: number) => ({ text: `${n}`.padEnd(300, '.'), usage: {}, finishReason: 'stop' as const });
      for (let n = 1; n <= 5; n++) await small.state.cache.set(`budget-${n}`, completion(n));
      const kept = await Promise.all([1, 2, 3, 4, 5].map((n) => small.state.cache.get(`budget-${n}`)));
      expect(kept.map((c) => c?.text[0] ?? null)).toEqual([null, null, '3', '4', '5']);
      expect(Number(await small.state.redis.get('flowgate:v1:cache-bytes'))).toBeLessThanOrEqual(1200);
    } finally {
      await small.close();
    }
  });
});
