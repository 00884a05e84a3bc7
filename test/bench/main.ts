/**
 * `npm run bench`: measures the engine against baselines in the same run, on
 * the test LLM server (in its own process) over loopback, and writes
 * BENCHMARKS.md. Ratios, not absolute times, are what it reports: the
 * machine is shared and its speed varies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import { LlmClient, collect } from '../../src/core';
import { runBatch } from '../../src/core/batch';
import { Pool } from '../../src/core/http/undici-pool';
import { selfSignedCertificate } from '../server/certificate';
import { TestLlmServer } from '../server/llm-server';
import type { RateLimit, Script } from '../server/llm-server';
import type { ServerReply } from './serve';

const CONCURRENCY = 32;
const THROUGHPUT_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const ROUNDS = 3;
const TOKENS: Script = { tokens: Array.from({ length: 20 }, (_, i) => `tok${i} `), usage: { input: 8, output: 20 } };
const PROMPT = { messages: [{ role: 'user' as const, content: 'Say twenty words.' }] };

class RemoteServer {
  private nextId = 0;
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
  ) {}

  static async start(args: string[] = []): Promise<RemoteServer> {
    const child = fork(join(__dirname, 'serve.js'), args, { stdio: 'inherit' });
    const origin = await new Promise<string>((resolve) =>
      child.once('message', (m: { origin: string }) => resolve(m.origin)),
    );
    return new RemoteServer(child, origin);
  }

  send(
    command:
      { kind: 'respond'; script: Script } | { kind: 'limit'; limit: RateLimit } | { kind: 'reset' } | { kind: 'stats' },
  ): Promise<ServerReply> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      const onMessage = (reply: ServerReply): void => {
        if (reply.id !== id) return;
        this.child.off('message', onMessage);
        resolve(reply);
      };
      this.child.on('message', onMessage);
      this.child.send({ ...command, id });
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

type Runner = (count: number) => Promise<void>;

/** The floor: undici's Pool.request and the same SSE parser, nothing else. */
function rawUndici(origin: string): { run: Runner; close: () => Promise<void> } {
  const pool = new Pool(origin, { connections: 64, headersTimeout: 0, bodyTimeout: 0 });
  // The deep-imported Pool lacks the request() API that undici's index adds; take it from undici's api module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const request = require('undici/lib/api/api-request') as (
    this: unknown,
    opts: object,
  ) => Promise<{ statusCode: number; body: AsyncIterable<Buffer> }>;
  const body = JSON.stringify({
    model: 'm',
    messages: PROMPT.messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const one = async (): Promise<void> => {
    const response = await request.call(pool, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body,
    });
    let text = '';
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (event) => {
        if (event.data === '[DONE]') return;
        const delta = (JSON.parse(event.data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta
          ?.content;
        if (delta) text += delta;
      },
    });
    for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    if (response.statusCode !== 200 || !text) throw new Error('raw undici: bad response');
  };
  return { run: (count) => inParallel(count, one), close: () => pool.close() };
}

function engine(origin: string): { run: Runner; close: () => Promise<void> } {
  const client = new LlmClient();
  const endpoint = { provider: 'openai' as const, baseUrl: `${origin}/v1`, model: 'm', concurrency: CONCURRENCY };
  const one = async (): Promise<void> => {
    const { text } = await collect(client.stream(PROMPT, { endpoint }));
    if (!text) throw new Error('engine: empty answer');
  };
  return { run: (count) => inParallel(count, one), close: () => client.close() };
}

function openaiSdk(origin: string): { run: Runner; close: () => Promise<void> } {
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'sk-bench', maxRetries: 0 });
  const one = async (): Promise<void> => {
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: PROMPT.messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    if (!text) throw new Error('openai sdk: empty answer');
  };
  return { run: (count) => inParallel(count, one), close: async () => {} };
}

async function inParallel(count: number, one: () => Promise<void>): Promise<void> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(Array.from({ length: count }, () => limit(one)));
}

async function requestsPerSecond(run: Runner, count: number): Promise<number> {
  const started = performance.now();
  await run(count);
  return (count / (performance.now() - started)) * 1000;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function throughput(server: RemoteServer): Promise<{ raw: number; engine: number; sdk: number }> {
  await server.send({ kind: 'reset' });
  await server.send({ kind: 'respond', script: TOKENS });
  const contenders = { raw: rawUndici(server.origin), engine: engine(server.origin), sdk: openaiSdk(server.origin) };
  const results: Record<keyof typeof contenders, number[]> = { raw: [], engine: [], sdk: [] };
  for (const contender of Object.values(contenders)) await contender.run(200); // warm up connections and JIT
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so a slow moment of the machine hits every contender alike.
    for (const [name, contender] of Object.entries(contenders) as [keyof typeof contenders, { run: Runner }][]) {
      results[name].push(await requestsPerSecond(contender.run, THROUGHPUT_REQUESTS));
    }
  }
  await Promise.all(Object.values(contenders).map((c) => c.close()));
  return { raw: median(results.raw), engine: median(results.engine), sdk: median(results.sdk) };
}

interface RateRun {
  requests: number;
  idealMs: number;
  actualMs: number;
  efficiency: number;
  rejected: number;
}

/** 200 requests against a server enforcing `rpm` as a token bucket; ideal = what its budget allows. */
async function rateLimited(server: RemoteServer, configured: boolean): Promise<RateRun> {
  const rpm = 3000;
  const requests = 200;
  const burst = rpm / 60;
  await server.send({ kind: 'reset' });
  await server.send({ kind: 'limit', limit: { rpm, headers: 'openai' } });
  await server.send({ kind: 'respond', script: { tokens: ['ok'] } });
  const client = new LlmClient({ retry: { maxAttempts: 10 } });
  const endpoint = {
    provider: 'openai' as const,
    baseUrl: `${server.origin}/v1`,
    model: 'm',
    concurrency: 64,
    rpm: configured ? rpm : undefined,
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: requests }, () => collect(client.stream(PROMPT, { endpoint }))));
  const actualMs = performance.now() - started;
  await client.close();
  const { rejected } = await server.send({ kind: 'stats' });
  const idealMs = ((requests - burst) / rpm) * 60_000;
  return { requests, idealMs, actualMs, efficiency: idealMs / actualMs, rejected };
}

/** Abort mid-stream, and time until the server sees its socket close. In-process, so both ends share one clock. */
async function cancelLatency(): Promise<{ p50: number; p95: number; max: number; count: number }> {
  const server = await TestLlmServer.start();
  server.respond({ tokens: ['first', 'never'], stallAfter: 1 });
  const client = new LlmClient();
  const endpoint = { provider: 'openai' as const, baseUrl: server.baseUrl('openai'), model: 'm' };
  const samples: number[] = [];
  for (let i = 0; i < 100; i++) {
    const controller = new AbortController();
    const closed = server.waitForDisconnect().then(() => performance.now());
    let abortedAt = 0;
    try {
      for await (const event of client.stream(PROMPT, { endpoint, signal: controller.signal })) {
        if (event.type === 'text') {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    } catch {
      // The cancellation error is the expected outcome.
    }
    samples.push((await closed) - abortedAt);
  }
  await client.close();
  await server.close();
  samples.sort((a, b) => a - b);
  return { p50: samples[49]!, p95: samples[94]!, max: samples[99]!, count: samples.length };
}

interface ProtocolRun {
  http1: number;
  http2: number;
}

/** The engine over HTTPS against one server, HTTP/1.1 (a pool of connections) against HTTP/2 (one multiplexed connection). */
async function protocols(): Promise<ProtocolRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-bench-tls-'));
  const certificate = selfSignedCertificate();
  writeFileSync(join(dir, 'key.pem'), certificate.key);
  writeFileSync(join(dir, 'cert.pem'), certificate.cert);
  const server = await RemoteServer.start(['--tls', join(dir, 'key.pem'), join(dir, 'cert.pem')]);
  try {
    await server.send({ kind: 'respond', script: TOKENS });
    const run = (http2: boolean) => {
      const client = new LlmClient({ ca: certificate.cert });
      const endpoint = {
        provider: 'openai' as const,
        baseUrl: `${server.origin}/v1`,
        model: 'm',
        concurrency: CONCURRENCY,
        http2,
      };
      const one = async (): Promise<void> => {
        if (!(await collect(client.stream(PROMPT, { endpoint }))).text) throw new Error('empty answer');
      };
      return { run: (count: number) => inParallel(count, one), close: () => client.close() };
    };
    const contenders = { http1: run(false), http2: run(true) };
    const results: Record<keyof typeof contenders, number[]> = { http1: [], http2: [] };
    for (const contender of Object.values(contenders)) await contender.run(200);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, contender] of Object.entries(contenders) as [keyof typeof contenders, { run: Runner }][])
        results[name].push(await requestsPerSecond(contender.run, 1500));
    }
    await Promise.all(Object.values(contenders).map((c) => c.close()));
    return { http1: median(results.http1), http2: median(results.http2) };
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface BatchRun {
  files: number;
  rpm: number;
  idealMs: number;
  actualMs: number;
  efficiency: number;
  ok: number;
  rejected: number;
  baselineRssMb: number;
  peakRssMb: number;
}

/** `files` small files through runBatch against a server enforcing `rpm`; memory sampled throughout. */
async function batchScale(server: RemoteServer, files: number, rpm: number): Promise<BatchRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-bench-batch-'));
  try {
    for (let i = 0; i < files; i++) {
      const folder = join(dir, 'in', String(Math.floor(i / 500)));
      if (i % 500 === 0) mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `f${i}.txt`), `File number ${i}: a short text to summarise.\n`);
    }
    await server.send({ kind: 'reset' });
    await server.send({ kind: 'limit', limit: { rpm } });
    await server.send({ kind: 'respond', script: { tokens: ['A ', 'short ', 'summary.'] } });
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const client = new LlmClient();
    const started = performance.now();
    const report = await runBatch(client, {
      inputs: ['in'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: 'Summarise this file in one line.',
      endpoint: { provider: 'openai', baseUrl: `${server.origin}/v1`, model: 'm', rpm },
      concurrency: 32,
    });
    const actualMs = performance.now() - started;
    clearInterval(sampler);
    await client.close();
    const { rejected } = await server.send({ kind: 'stats' });
    const idealMs = ((files - rpm / 60) / rpm) * 60_000;
    const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
    return {
      files,
      rpm,
      idealMs,
      actualMs,
      efficiency: idealMs / actualMs,
      ok: report.summary.ok,
      rejected,
      baselineRssMb: mb(baseline),
      peakRssMb: mb(peak),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fixed = (value: number, digits = 2): string => value.toFixed(digits);

function report(
  t: Awaited<ReturnType<typeof throughput>>,
  configured: RateRun,
  learnt: RateRun,
  cancel: Awaited<ReturnType<typeof cancelLatency>>,
  batches: BatchRun[],
  p: ProtocolRun,
): string {
  const vsRaw = t.engine / t.raw;
  const vsSdk = t.engine / t.sdk;
  const pass = (ok: boolean): string => (ok ? 'met' : '**missed**');
  return `# Benchmarks

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}, ${process.platform}/${process.arch}); every figure
below comes from one run of that command. The test LLM server runs in its own process on 127.0.0.1.
Throughput figures are medians of ${ROUNDS} interleaved rounds of ${THROUGHPUT_REQUESTS} streaming requests at concurrency ${CONCURRENCY},
each answer ${TOKENS.tokens!.length} SSE deltas. Compare the ratios; absolute numbers depend on the machine.

## Streaming throughput

| Client | Requests/s | Ratio to the engine |
| --- | ---: | ---: |
| Raw undici \`Pool.request\` + eventsource-parser (the floor) | ${fixed(t.raw, 0)} | ${fixed(t.raw / t.engine)} |
| **Flowgate engine** (\`LlmClient.stream\`, full pipeline) | ${fixed(t.engine, 0)} | 1.00 |
| Official \`openai\` SDK 6 (global fetch) | ${fixed(t.sdk, 0)} | ${fixed(t.sdk / t.engine)} |

- Engine / raw undici: **${fixed(vsRaw)}x** (target >= 0.80x: ${pass(vsRaw >= 0.8)}).
- Engine / openai SDK: **${fixed(vsSdk)}x** (target >= 2x: ${pass(vsSdk >= 2)}).

## Rate-limit efficiency

${configured.requests} requests against a server that enforces 3000 RPM as a token bucket (a burst of 50, then 50/s);
ideal time is what that budget allows: ${fixed(configured.idealMs, 0)} ms. Efficiency = ideal / actual.

| Client setting | Actual ms | Efficiency | 429s |
| --- | ---: | ---: | ---: |
| \`rpm: 3000\` configured | ${fixed(configured.actualMs, 0)} | ${fixed(configured.efficiency)} | ${configured.rejected} |
| nothing configured, learnt from \`x-ratelimit-*\` headers | ${fixed(learnt.actualMs, 0)} | ${fixed(learnt.efficiency)} | ${learnt.rejected} |

- Configured: efficiency ${fixed(configured.efficiency)} (target >= 0.95: ${pass(configured.efficiency >= 0.95)}), 429s ${configured.rejected} (target 0: ${pass(configured.rejected === 0)}).
- Learnt: the 429s come from the first wave, sent at concurrency 64 before any header said what the limit is.

## Cancellation

Abort mid-stream until the server sees the socket close, ${cancel.count} times:
p50 ${fixed(cancel.p50)} ms, p95 ${fixed(cancel.p95)} ms, max ${fixed(cancel.max)} ms (target < 100 ms: ${pass(cancel.max < 100)}).

## Batch

\`runBatch\` over small files (walked, read, sent, written atomically, journalled), concurrency 32,
against a server enforcing the configured RPM. Ideal time is what that RPM allows after its
one-second burst. RSS is sampled every 50 ms in the benchmark process.

| Files | RPM | Ideal ms | Actual ms | Efficiency | ok | 429s | RSS before | Peak RSS |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${batches.map((b) => `| ${b.files} | ${b.rpm} | ${fixed(b.idealMs, 0)} | ${fixed(b.actualMs, 0)} | ${fixed(b.efficiency)} | ${b.ok} | ${b.rejected} | ${b.baselineRssMb} MB | ${b.peakRssMb} MB |`).join('\n')}

Peak memory does not grow with the number of files: the list and the contents are streamed.

## HTTP/1.1 or HTTP/2

The engine over HTTPS to one local server (TLS with a throwaway certificate), ${CONCURRENCY} streams at once,
medians of ${ROUNDS} interleaved rounds of 1500 requests.

| Protocol | Connections | Requests/s |
| --- | ---: | ---: |
| HTTP/1.1 (\`http2: false\`, the default) | one per stream, up to ${CONCURRENCY} | ${fixed(p.http1, 0)} |
| HTTP/2 (\`http2: true\`) | 1 | ${fixed(p.http2, 0)} |

HTTP/2 / HTTP/1.1: **${fixed(p.http2 / p.http1)}x**. ${p.http2 >= p.http1 ? 'Here HTTP/2 is at least as fast, on a single connection: prefer it for endpoints that support it, above all through proxies and when many requests run at once (one TLS handshake, no per-connection limits).' : 'Here HTTP/1.1 is faster: on loopback its parallel connections beat one multiplexed connection, whose streams share one socket and one event-loop path. Prefer HTTP/2 when connections are costly (TLS handshakes over long distances, proxies, connection limits), HTTP/1.1 when raw throughput to a nearby server matters.'}
`;
}

async function main(): Promise<void> {
  const server = await RemoteServer.start();
  try {
    process.stderr.write('throughput...\n');
    const t = await throughput(server);
    process.stderr.write('rate limit, configured...\n');
    const configured = await rateLimited(server, true);
    process.stderr.write('rate limit, learnt...\n');
    const learnt = await rateLimited(server, false);
    process.stderr.write('cancellation...\n');
    const cancel = await cancelLatency();
    process.stderr.write('batch, 1,000 and 10,000 files...\n');
    const batches = [await batchScale(server, 1000, 30_000), await batchScale(server, 10_000, 30_000)];
    process.stderr.write('HTTP/1.1 and HTTP/2...\n');
    const p = await protocols();
    const markdown = report(t, configured, learnt, cancel, batches, p);
    writeFileSync(join(process.cwd(), 'BENCHMARKS.md'), markdown);
    process.stdout.write(markdown);
  } finally {
    server.stop();
  }
}

void main();
