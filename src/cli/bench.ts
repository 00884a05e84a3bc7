import pLimit from 'p-limit';
import { startEngine } from './engine';
import type { LlmClient, Percentiles } from '../core';
import type { BenchArgs } from './args';

export interface BenchSummary {
  provider: string;
  model: string;
  requests: number;
  concurrency: number;
  stream: boolean;
  ok: number;
  failed: number;
  /** Failed requests by error code. */
  failures: Record<string, number>;
  wallMs: number;
  requestsPerSecond: number;
  latencyMs: Omit<Percentiles, 'count'>;
  ttftMs: Omit<Percentiles, 'count'>;
  rateLimited: number;
  retries: number;
  outputTokens: number;
  outputTokensPerSecond?: number;
}

/** Sends `args.requests` requests through the whole engine, `args.concurrency` at a time. */
export async function runBench(args: BenchArgs, signal: AbortSignal): Promise<BenchSummary> {
  const engine = await startEngine(args, process.env, (line) => process.stderr.write(`flowgate: ${line}\n`));
  const client = engine.client;
  // The endpoint must not be the bottleneck the benchmark measures.
  const endpoint = { ...args.endpoint, concurrency: args.endpoint.concurrency ?? args.concurrency };
  const limit = pLimit(args.concurrency);
  const request = {
    messages: [{ role: 'user' as const, content: args.prompt }],
    system: args.system,
    maxTokens: args.maxTokens,
  };
  const started = performance.now();
  try {
    const outcomes = await Promise.all(
      Array.from({ length: args.requests }, () =>
        limit(() =>
          client.complete(request, { endpoint, signal, stream: args.stream }).then(
            () => undefined,
            (error: { code?: string }) => error.code ?? 'ERROR',
          ),
        ),
      ),
    );
    return summarise(args, client, outcomes, performance.now() - started);
  } finally {
    await engine.close();
  }
}

function summarise(args: BenchArgs, client: LlmClient, outcomes: (string | undefined)[], wallMs: number): BenchSummary {
  const { overall } = client.metrics();
  const failures: Record<string, number> = {};
  for (const code of outcomes) if (code) failures[code] = (failures[code] ?? 0) + 1;
  const ok = outcomes.filter((code) => code === undefined).length;
  const { count: _l, ...latencyMs } = overall.latencyMs.sinceStart;
  const { count: _t, ...ttftMs } = overall.ttftMs.sinceStart;
  return {
    provider: args.endpoint.provider,
    model: args.endpoint.model,
    requests: args.requests,
    concurrency: args.concurrency,
    stream: args.stream,
    ok,
    failed: outcomes.length - ok,
    failures,
    wallMs: Math.round(wallMs),
    requestsPerSecond: Math.round((ok / wallMs) * 1000 * 10) / 10,
    latencyMs,
    ttftMs,
    rateLimited: overall.rateLimited,
    retries: overall.retries,
    outputTokens: overall.outputTokens,
    outputTokensPerSecond: overall.outputTokensPerSecond,
  };
}
