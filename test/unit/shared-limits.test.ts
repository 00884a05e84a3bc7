/**
 * Limits shared through a real redis-server: processes on one key together
 * keep to the rate a server enforces, a 429 one of them gets holds the
 * others, Redis dying mid-run lets the run finish, and a Redis that cannot
 * be used is a clear error before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ConfigError,
  EndpointUnavailableError,
  LlmClient,
  NetworkError,
  connectRedisState,
  type Endpoint,
} from '../../src/core';
import { selfSignedCertificate } from '../server/certificate';
import { freePort } from '../server/free-port';
import { startRedis, type RunningRedis } from '../server/redis';
import { runCli, type CliOutcome } from './cli-process';
import { rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
const KEY = 'sk-shared-limits-0123456789';
let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

/** `flowgate bench` in its own process: `requests` requests at concurrency 8, sharing through `redisUrl` when given. */
function bench(rpm: number, requests: number, redisUrl?: string): Promise<CliOutcome> {
  const args = ['bench', '--provider', 'openai', '--base-url', `${server().origin}/v1`, '--model', 'shared-model'];
  args.push('--requests', String(requests), '--concurrency', '8', '--rpm', String(rpm), '--max-retries', '5');
  if (redisUrl) args.push('--redis', redisUrl);
  return runCli(args, { env: { OPENAI_API_KEY: KEY } });
}

/** Requests per minute the server saw after its burst, as a share of what it allows. */
function efficiency(rpm: number): number {
  const arrivals = [...server().arrivals].sort((a, b) => a - b);
  const burst = Math.max(1, rpm / 60);
  const spanMs = arrivals.at(-1)! - arrivals[0]!;
  return (((arrivals.length - burst) / spanMs) * 60_000) / rpm;
}

describe('processes sharing one RPM through Redis', () => {
  const RPM = 600;

  test.each([2, 4])(
    '%i processes: no 429 from a server enforcing the rate, and together at least 0.9 of it',
    async (n) => {
      server().limit({ rpm: RPM });
      const runs = await Promise.all(Array.from({ length: n }, () => bench(RPM, 60 / n + 10, redis.url)));
      for (const run of runs) expect(run.code, run.stderr).toBe(0);
      expect(server().rejected).toBe(0);
      expect(server().requests).toHaveLength(n * (60 / n + 10));
      expect(efficiency(RPM)).toBeGreaterThanOrEqual(0.9);
    },
    60_000,
  );

  test('the same two processes without Redis each take the whole rate: the server answers 429s', async () => {
    server().limit({ rpm: RPM });
    // Long enough (about 8 s each) that they overlap however far apart a busy machine starts them.
    const runs = await Promise.all([bench(RPM, 80), bench(RPM, 80)]);
    // Some of their requests may even run out of retries (exit 1): that is the storm sharing prevents.
    for (const run of runs) expect([0, 1], run.stderr).toContain(run.code);
    expect(server().rejected).toBeGreaterThan(0);
  }, 60_000);

  test('Redis killed mid-run: each process falls back to its share, says so once, and the run finishes', async () => {
    const doomed = await startRedis();
    server().limit({ rpm: RPM });
    const runs = Promise.all([bench(RPM, 40, doomed.url), bench(RPM, 40, doomed.url)]);
    await waitUntil(() => server().requests.length >= 20);
    await doomed.kill();
    const [a, b] = await runs;
    for (const run of [a, b]) {
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ ok: 40, failed: 0 });
      expect(run.stderr.match(/Shared limits are unavailable/g)).toHaveLength(1);
    }
  }, 60_000);
});

describe('two clients on one key, as two windows would be', () => {
  async function pair(): Promise<{ clients: LlmClient[]; close: () => Promise<void> }> {
    const states = [await connectRedisState(redis.url), await connectRedisState(redis.url)];
    const clients = states.map((sharedState) => new LlmClient({ sharedState, retry: { maxAttempts: 1 } }));
    return {
      clients,
      close: async () => {
        await Promise.all(clients.map((c) => c.close()));
        await Promise.all(states.map((s) => s.close()));
      },
    };
  }
  const target = (extra: Partial<Endpoint> = {}): Endpoint =>
    endpoint('openai', { apiKey: KEY, model: `pause-model-${Math.random()}`, ...extra });

  test("one client's 429 holds the other's requests for as long as the server asked", async () => {
    const { clients, close } = await pair();
    try {
      const shared = target();
      server().enqueue({ status: 429, headers: { 'retry-after-ms': '800' }, error: { message: 'slow down' } });
      const first = await rejection(
        clients[0]!.complete({ messages: [{ role: 'user', content: 'a' }] }, { endpoint: shared }),
      );
      expect(first.message).toMatch(/429/);
      const asked = performance.now();
      await clients[1]!.complete({ messages: [{ role: 'user', content: 'b' }] }, { endpoint: shared });
      expect(performance.now() - asked).toBeGreaterThanOrEqual(700);
    } finally {
      await close();
    }
  });

  test("a limit one client learnt from the provider's headers paces the other before it has seen any", async () => {
    const { clients, close } = await pair();
    try {
      const shared = target(); // no rpm configured: only the headers say it
      server().limit({ rpm: 120, headers: 'openai' });
      await clients[0]!.complete({ messages: [{ role: 'user', content: 'learn' }] }, { endpoint: shared });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the learnt limit reaches Redis
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          clients[1]!.complete({ messages: [{ role: 'user', content: `b${i}` }] }, { endpoint: shared }),
        ),
      );
      // 120 RPM is one request every 500 ms: five from a client that knew nothing go out paced, not at once.
      expect(server().rejected).toBe(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1500);
    } finally {
      await close();
    }
  });

  test("one client's open circuit breaker makes the other fail fast too, without reaching the server", async () => {
    const { clients, close } = await pair();
    try {
      const shared = target();
      const ask = (client: LlmClient, content: string) =>
        client.complete({ messages: [{ role: 'user', content }] }, { endpoint: shared });
      server().respond({ status: 503, error: { message: 'overloaded' } });
      for (let i = 0; i < 5; i++) await rejection(ask(clients[0]!, `a${i}`)); // five failures open its breaker
      expect(await rejection(ask(clients[0]!, 'a5'))).toBeInstanceOf(EndpointUnavailableError);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the open breaker reaches Redis
      server().respond({ tokens: ['fine'] });
      await ask(clients[1]!, 'b0'); // admitted before it knew; its admission brought the news
      const fast = await rejection(ask(clients[1]!, 'b1'));
      expect(fast).toBeInstanceOf(EndpointUnavailableError);
      expect(server().requests.some((r) => JSON.stringify(r.body).includes('"b1"'))).toBe(false);
      expect(server().requests).toHaveLength(6);
    } finally {
      await close();
    }
  });

  describe('after the cool-down, one probe goes for every process', () => {
    const COOLDOWN_MS = 600;
    /** Three clients on one endpoint whose breaker client 0 opened; the others know it from their last admission. */
    async function opened(): Promise<{ clients: LlmClient[]; ask: Ask; close: () => Promise<void> }> {
      const states = await Promise.all([0, 1, 2].map(() => connectRedisState(redis.url)));
      const clients = states.map(
        (sharedState) =>
          new LlmClient({
            sharedState,
            retry: { maxAttempts: 1 },
            breaker: { failureThreshold: 2, cooldownMs: COOLDOWN_MS },
          }),
      );
      const shared = target();
      const ask: Ask = (i, content) =>
        clients[i]!.complete({ messages: [{ role: 'user', content }] }, { endpoint: shared });
      server().respond({ status: 503, error: { message: 'overloaded' } });
      for (let i = 0; i < 2; i++) await rejection(ask(0, `open${i}`));
      await new Promise((resolve) => setTimeout(resolve, 50)); // the open breaker reaches Redis
      server().respond({ tokens: ['fine'] });
      await Promise.all([ask(1, 'news1'), ask(2, 'news2')]); // admitted before they knew; the admission brought the news
      for (const i of [0, 1, 2]) expect(await rejection(ask(i, `held${i}`))).toBeInstanceOf(EndpointUnavailableError);
      return {
        clients,
        ask,
        close: async () => {
          await Promise.all(clients.map((c) => c.close()));
          await Promise.all(states.map((s) => s.close()));
        },
      };
    }
    type Ask = (client: number, content: string) => Promise<unknown>;
    const reached = (content: string): boolean =>
      server().requests.some((r) => JSON.stringify(r.body).includes(`"${content}"`));

    test('the probe finds the endpoint well: one request reaches it, then every process closes', async () => {
      const { ask, close } = await opened();
      try {
        await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 50));
        server().respond({ tokens: ['fine'], firstTokenDelayMs: 300 });
        const before = server().requests.length;
        const outcomes = await Promise.allSettled([ask(0, 'probe0'), ask(1, 'probe1'), ask(2, 'probe2')]);
        expect(server().requests.length - before).toBe(1);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const held = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
        expect(held).toHaveLength(2);
        for (const error of held) expect(error).toBeInstanceOf(EndpointUnavailableError);
        // The probe came back well: every process sends again, with no probe of its own first.
        await Promise.all([ask(0, 'after0'), ask(1, 'after1'), ask(2, 'after2')]);
        expect(server().requests.length - before).toBe(4);
      } finally {
        await close();
      }
    });

    test('the probe fails: the breaker opens again for every process, and none of them reaches the endpoint', async () => {
      const { ask, close } = await opened();
      try {
        await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 50));
        server().respond({ status: 503, error: { message: 'still overloaded' } });
        await rejection(ask(1, 'probe1'));
        expect(reached('probe1')).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 50)); // the reopened breaker reaches Redis
        for (const i of [0, 2]) expect(await rejection(ask(i, `after${i}`))).toBeInstanceOf(EndpointUnavailableError);
        expect(reached('after0') || reached('after2')).toBe(false);
      } finally {
        await close();
      }
    });
  });

  test('different keys never share: the other key is not held', async () => {
    const { clients, close } = await pair();
    try {
      server().enqueue({ status: 429, headers: { 'retry-after-ms': '800' }, error: { message: 'slow down' } });
      const model = `pause-model-${Math.random()}`;
      await rejection(
        clients[0]!.complete({ messages: [{ role: 'user', content: 'a' }] }, { endpoint: target({ model }) }),
      );
      const asked = performance.now();
      await clients[1]!.complete(
        { messages: [{ role: 'user', content: 'b' }] },
        { endpoint: target({ model, apiKey: 'sk-another-key-0123456789' }) },
      );
      expect(performance.now() - asked).toBeLessThan(500);
    } finally {
      await close();
    }
  });
});

describe('a Redis that cannot be used is a clear error on first use', () => {
  test('unreachable, wrong password, an untrusted TLS certificate, not a Redis URL; the password never appears', async () => {
    const closed = await freePort();
    const unreachable = await rejection(connectRedisState(`redis://127.0.0.1:${closed}`, { connectTimeoutMs: 1000 }));
    expect(unreachable).toBeInstanceOf(NetworkError);
    expect(unreachable.message).toMatch(
      new RegExp(`Redis at redis://127.0.0.1:${closed} cannot be reached \\(ECONNREFUSED\\)`),
    );

    const guarded = await startRedis({ password: 'right-password' });
    try {
      const wrong = await rejection(connectRedisState(guarded.url, { password: 'wrong-password-123' }));
      expect(wrong).toBeInstanceOf(ConfigError);
      expect(wrong.message).toMatch(/refused the credentials/);
      expect(wrong.message).not.toContain('wrong-password-123');
      const right = await connectRedisState(guarded.url, { password: 'right-password' });
      await right.close();
    } finally {
      await guarded.stop();
    }

    // The CLI says it before sending anything: exit 1 for Redis out of reach, 2 for a URL that is no Redis URL.
    const cli = (redisUrl: string) =>
      runCli(
        [
          'chat',
          '--provider',
          'openai',
          '--base-url',
          `${server().origin}/v1`,
          '--model',
          'm',
          '--redis',
          redisUrl,
          'hello',
        ],
        {
          env: { OPENAI_API_KEY: KEY },
        },
      );
    const down = await cli(`redis://127.0.0.1:${closed}`);
    expect(down).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot be reached \(ECONNREFUSED\)/) as string,
    });
    expect((await cli('http://127.0.0.1:6379')).code).toBe(2);
    expect(server().requests).toHaveLength(0);

    // TLS: a certificate nobody vouches for is refused, and says so; trusted, the same server works.
    const certificate = selfSignedCertificate();
    const tls = await startRedis({ tls: certificate });
    try {
      expect(tls.url).toMatch(/^rediss:\/\//);
      const untrusted = await rejection(connectRedisState(tls.url, { connectTimeoutMs: 2000 }));
      expect(untrusted).toBeInstanceOf(NetworkError);
      expect(untrusted.message).toMatch(
        /^The TLS connection to Redis at rediss:\/\/127\.0\.0\.1:\d+ failed: .*self.signed/,
      );
      const trusted = await connectRedisState(tls.url, { ca: certificate.cert });
      const gate = trusted.gateFor(endpoint('openai', { apiKey: KEY, model: 'tls-model' }));
      expect(await gate.take({ rpm: 60 }, 1)).toBe(0);
      expect(gate.status()).toMatchObject({ connected: true, participants: 1 });
      await trusted.close();
    } finally {
      await tls.stop();
    }

    const notRedis = await rejection(connectRedisState('http://127.0.0.1:6379'));
    expect(notRedis).toBeInstanceOf(ConfigError);
    expect(notRedis.message).toMatch(/must look like redis:\/\/HOST:PORT/);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
