/**
 * What sharing limits through Redis costs and gives: the time a request's
 * admission spends on the shared budget (one script round trip to a local
 * redis-server), next to admission in-process; and the aggregate
 * efficiency of four processes sharing one RPM against a server enforcing
 * it, next to one process alone.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LlmClient, connectRedisState, type Endpoint } from '../../src/core';
import { TestLlmServer } from '../server/llm-server';
import { startRedis } from '../server/redis';

const PROMPT = { messages: [{ role: 'user' as const, content: 'Say ok.' }] };
const CLI = join(__dirname, '..', 'cli.js');

interface Latency {
  p50: number;
  p99: number;
}

export async function sharedLimitsSection(): Promise<string> {
  const redis = await startRedis().catch((error: Error) => error);
  if (redis instanceof Error) return `## Shared limits (Redis)\n\nNot measured: ${redis.message}.\n`;
  const server = await TestLlmServer.start();
  try {
    const rounds = 5;
    const local: number[][] = [];
    const shared: number[][] = [];
    // Interleaved rounds: a slow spell of the machine falls on both.
    for (let round = 0; round < rounds; round++) {
      local.push(await admissionMs(server));
      shared.push(await admissionMs(server, redis.url));
    }
    const alone = await efficiency(server, 1, redis.url);
    const four = await efficiency(server, 4, redis.url);
    return section(percentiles(local.flat()), percentiles(shared.flat()), alone, four, rounds);
  } finally {
    await server.close();
    await redis.stop();
  }
}

/** Each request's time from the call to the request reaching the server, minus the same without any limit, in ms. */
async function admissionMs(server: TestLlmServer, redisUrl?: string): Promise<number[]> {
  const state = redisUrl ? await connectRedisState(redisUrl) : undefined;
  const client = new LlmClient({ sharedState: state });
  const endpoint: Endpoint = {
    provider: 'openai',
    baseUrl: `${server.origin}/v1`,
    model: `bench-${Math.random()}`,
    rpm: 1_000_000,
    tpm: 100_000_000,
    concurrency: 1,
  };
  server.reset();
  server.respond({ tokens: ['ok'] });
  const samples: number[] = [];
  try {
    for (let i = 0; i < 400; i++) {
      const sent = performance.now();
      await client.complete(PROMPT, { endpoint });
      samples.push(server.arrivals.at(-1)! - sent);
    }
  } finally {
    await client.close();
    await state?.close();
  }
  return samples.slice(20); // the first requests also open the connections
}

/** `processes` bench processes sharing one RPM through Redis against a server enforcing it: ideal time / actual time. */
async function efficiency(
  server: TestLlmServer,
  processes: number,
  redisUrl: string,
): Promise<{ efficiency: number; rejected: number; requests: number }> {
  const rpm = 1200;
  const requests = 240;
  server.reset();
  server.limit({ rpm });
  server.respond({ tokens: ['ok'] });
  const each = requests / processes;
  const args = [CLI, 'bench', '--provider', 'openai', '--base-url', `${server.origin}/v1`, '--model', 'shared'];
  args.push('--requests', String(each), '--concurrency', '8', '--rpm', String(rpm), '--redis', redisUrl);
  await Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<void>((resolve) =>
          spawn(process.execPath, args, {
            stdio: 'ignore',
            env: { PATH: process.env.PATH ?? '', OPENAI_API_KEY: 'sk-bench' },
          }).on('close', () => resolve()),
        ),
    ),
  );
  const arrivals = [...server.arrivals].sort((a, b) => a - b);
  const burst = rpm / 60;
  const actualMs = arrivals.at(-1)! - arrivals[0]!;
  const idealMs = ((arrivals.length - burst) / rpm) * 60_000;
  server.unlimit();
  return { efficiency: idealMs / actualMs, rejected: server.rejected, requests: arrivals.length };
}

function percentiles(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { p50: at(50), p99: at(99) };
}

function section(
  local: Latency,
  shared: Latency,
  alone: { efficiency: number; rejected: number; requests: number },
  four: { efficiency: number; rejected: number; requests: number },
  rounds: number,
): string {
  const ms = (n: number): string => n.toFixed(2);
  return `## Shared limits (Redis)

A local redis-server and the test server on 127.0.0.1. **Admission**: the time from the call to
the request reaching the server, one request at a time under a limit that never binds, 380
requests per round, ${rounds} interleaved rounds (the shared budget is one atomic script round trip
per request). **Efficiency**: ${alone.requests} requests at 1,200 RPM against a server enforcing
it, from \`flowgate bench --redis\` processes; ideal time (after the server's burst) over the
actual time from first to last arrival.

| | p50 | p99 |
| --- | ---: | ---: |
| Call to server, limits in-process | ${ms(local.p50)} ms | ${ms(local.p99)} ms |
| Call to server, limits shared through Redis | ${ms(shared.p50)} ms | ${ms(shared.p99)} ms |
| What sharing adds | ${ms(shared.p50 - local.p50)} ms | ${ms(shared.p99 - local.p99)} ms |

| Processes sharing 1,200 RPM | Requests | 429s | Efficiency |
| --- | ---: | ---: | ---: |
| 1 | ${alone.requests} | ${alone.rejected} | ${alone.efficiency.toFixed(2)} |
| 4 | ${four.requests} | ${four.rejected} | ${four.efficiency.toFixed(2)} |
`;
}
