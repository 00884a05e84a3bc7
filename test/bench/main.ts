/**
 * `npm run bench`: measures the engine against baselines in the same run, on
 * the test LLM server (in its own process) over loopback, and writes
 * BENCHMARKS.md. Ratios, not absolute times, are what it reports: the
 * machine is shared and its speed varies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { LlmClient, collect } from '../../src/core';
import { runBatch } from '../../src/core/batch';
import { selfSignedCertificate } from '../server/certificate';
import { TestLlmServer } from '../server/llm-server';
import type { RateLimit, Script } from '../server/llm-server';
import {
  CONCURRENCY,
  ROUNDS as CPU_ROUNDS,
  Worker,
  measureCpu,
  median,
  spread,
  type CpuResult,
  type Samples,
} from './cpu';
import type { ServerReply } from './serve';
import { batchSavings } from './batch-savings';
import { sharedLimitsSection } from './shared-limits';

const ROUNDS = 3;
const FLOOR = 'floor';
const ENGINE = 'engine';
const ENGINE_EVENTS = 'engine, one event at a time';
const SDK = 'openai SDK';
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

async function inParallel(count: number, one: () => Promise<void>): Promise<void> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(Array.from({ length: count }, () => limit(one)));
}

async function requestsPerSecond(run: Runner, count: number): Promise<number> {
  const started = performance.now();
  await run(count);
  return (count / (performance.now() - started)) * 1000;
}

/** Extra engine builds to measure beside this one: `--compare label=path/to/cpu-worker.js` (see build-worker.sh). */
function comparisons(): { label: string; script: string }[] {
  const out: { label: string; script: string }[] = [];
  process.argv.forEach((arg, i) => {
    if (arg !== '--compare') return;
    const [label, script] = (process.argv[i + 1] ?? '').split('=');
    if (!label || !script) throw new Error('--compare needs label=path/to/cpu-worker.js');
    out.push({ label, script });
  });
  return out;
}

async function cpu(server: RemoteServer): Promise<CpuResult> {
  await server.send({ kind: 'reset' });
  const workers = [
    await Worker.start(FLOOR, 'floor', server.origin),
    await Worker.start(ENGINE, 'engine', server.origin),
    await Worker.start(ENGINE_EVENTS, 'engine-events', server.origin),
    // --no-sdk: while working on the engine, skip the slowest contender.
    ...(process.argv.includes('--no-sdk') ? [] : [await Worker.start(SDK, 'sdk', server.origin)]),
    ...(await Promise.all(comparisons().map((c) => Worker.start(c.label, 'engine', server.origin, c.script)))),
  ];
  try {
    return await measureCpu(
      workers,
      async (script) => void (await server.send({ kind: 'respond', script })),
      (line) => process.stderr.write(`${line}\n`),
    );
  } finally {
    for (const worker of workers) worker.stop();
  }
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

/** The CPU section: per scenario, each contender's CPU per 1,000 requests and its ratio to the floor. */
function cpuSection(c: CpuResult): string {
  const pass = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const samplesOf = (scenario: string, label: string): Samples =>
    c.scenarios.find((s) => s.scenario.name === scenario)!.byLabel.get(label)!;
  const tables = c.scenarios.map(({ scenario, byLabel }) => {
    const chunks = byLabel.get(FLOOR)!.chunksPerAnswer;
    const rows = [...byLabel].map(([label, samples]) => {
      const cpuMs = median(samples.cpuPer1000);
      const perChunk = cpuMs / chunks; // ms per 1,000 requests = µs per request
      return `| ${label === ENGINE ? '**engine**' : label} | ${fixed(cpuMs, 0)} | ${spread(samples.cpuPer1000)} | ${fixed(perChunk, 1)} | ${fixed(median(samples.ratioToFloor))} | ${fixed(median(samples.requestsPerSecond), 0)} |`;
    });
    return `### ${scenario.name} (${scenario.requests} requests a round; the floor read ${fixed(chunks, 1)} network chunks per answer)

| Client | CPU ms per 1,000 requests (median) | Spread (min / max) | CPU µs per chunk | CPU / floor (median of rounds) | Requests/s (wall) |
| --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}`;
  });
  const ratio12 = median(samplesOf('12 deltas', ENGINE).ratioToFloor);
  const ratio200 = median(samplesOf('200 deltas', ENGINE).ratioToFloor);
  const withSdk = c.scenarios[0]!.byLabel.has(SDK);
  // Paired within each round too.
  const sdkOverEngine = (scenario: string): number => {
    const engine = samplesOf(scenario, ENGINE).cpuPer1000;
    return median(samplesOf(scenario, SDK).cpuPer1000.map((cpu, round) => cpu / engine[round]!));
  };
  const sdk12 = withSdk ? sdkOverEngine('12 deltas') : NaN;
  const sdk200 = withSdk ? sdkOverEngine('200 deltas') : NaN;
  return `## CPU per request

VS Code runs every extension on one extension-host thread, so what a client spends per request
and per streamed token is taken from the editor. This is the measure that matters, and the one
that holds still on a shared machine: CPU time (user + system) of the client's own process,
per 1,000 streamed requests at concurrency ${CONCURRENCY} against the test server on 127.0.0.1 (in a
process of its own). Each client runs in its own process; the scenarios run ${CPU_ROUNDS} rounds, and in
each round every client runs once, in a rotating order. Medians, with the spread of the rounds;
the ratio to the floor is taken within each round (so a slow spell of the machine moves both
sides of it), and its median reported.

- **The floor**: undici's \`Pool.request\` and eventsource-parser, nothing else: no timeouts,
  no cancellation, no retries, no pacing, no redaction.
- **The engine**: \`LlmClient.streamChunks\`, the whole pipeline (scheduler, quota, layered
  timeouts, cancellation, retries, scrubbing of the endpoint's API key, decoding of every event
  kind, metrics), read as the extension reads it: one array of events per network chunk.
- **The engine, one event at a time**: \`LlmClient.stream\` folded by \`collect\`, with an async
  hand-off per event.
- **The openai SDK** 6, streaming through Node's global fetch.

Results (targets: the engine at or under 1.15x the floor's CPU, the SDK at 4x the engine or more):

- 12 deltas per answer: engine / floor **${fixed(ratio12)}x** (${pass(ratio12 <= 1.15)}); SDK / engine **${fixed(sdk12)}x** (${pass(sdk12 >= 4)}).
- 200 deltas per answer: engine / floor **${fixed(ratio200)}x** (${pass(ratio200 <= 1.15)}); SDK / engine **${fixed(sdk200)}x** (${pass(sdk200 >= 4)}).
- Peak RSS: ${[...c.peakRssMb].map(([label, mb]) => `${label} ${fixed(mb, 0)} MB`).join(', ')}.

${tables.join('\n\n')}

"CPU µs per chunk" is CPU per request divided by the chunks per answer: in the last scenario,
where each delta is its own network write 1 ms after the one before, it is what one chunk of one
delta costs, request overhead spread over the hundred chunks. Wall-clock rates are shown but
move with the machine's load from run to run; compare CPU.
`;
}

function report(
  c: CpuResult,
  configured: RateRun,
  learnt: RateRun,
  cancel: Awaited<ReturnType<typeof cancelLatency>>,
  batches: BatchRun[],
  p: ProtocolRun,
  steps: string,
): string {
  const pass = (ok: boolean): string => (ok ? 'met' : '**missed**');
  return `# Benchmarks

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}, ${process.platform}/${process.arch}); every figure
below comes from one run of that command, except the hand-kept record of changes at the end.
The test LLM server runs in its own process on 127.0.0.1. Compare the ratios; absolute numbers
depend on the machine.

${cpuSection(c)}
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

${steps}`;
}

async function main(): Promise<void> {
  // One section only, spliced into the BENCHMARKS.md there is.
  const only = process.argv.includes('--savings-only')
    ? { title: '## Batch savings on a realistic job', make: batchSavings }
    : process.argv.includes('--shared-only')
      ? { title: '## Shared limits (Redis)', make: sharedLimitsSection }
      : undefined;
  if (only) {
    const text = await only.make();
    const path = join(process.cwd(), 'BENCHMARKS.md');
    const before = readFileSync(path, 'utf8');
    const start = before.indexOf(only.title);
    const end = start === -1 ? -1 : before.indexOf('\n## ', start + 1);
    const next =
      start === -1
        ? `${before.trimEnd()}\n\n${text}`
        : `${before.slice(0, start)}${text}${end === -1 ? '' : before.slice(end + 1)}`;
    writeFileSync(path, next);
    process.stdout.write(text);
    return;
  }
  const server = await RemoteServer.start();
  try {
    process.stderr.write('CPU per request...\n');
    const c = await cpu(server);
    if (process.argv.includes('--cpu-only')) {
      process.stdout.write(cpuSection(c));
      return;
    }
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
    process.stderr.write('batch savings, 2,000 files in each mode...\n');
    const savings = await batchSavings();
    process.stderr.write('shared limits through Redis...\n');
    const shared = await sharedLimitsSection();
    const steps = readFileSync(join(__dirname, '..', '..', 'test', 'bench', 'STEPS.md'), 'utf8');
    const markdown = report(c, configured, learnt, cancel, batches, p, `${savings}\n${shared}\n${steps}`);
    writeFileSync(join(process.cwd(), 'BENCHMARKS.md'), markdown);
    process.stdout.write(markdown);
  } finally {
    server.stop();
  }
}

void main();
