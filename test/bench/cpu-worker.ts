/**
 * One contender of the CPU benchmark in a process of its own, so that its
 * CPU time, garbage and peak memory are its own. The benchmark sends it
 * `run` commands; it answers with the CPU time (user + system) and the wall
 * time the run took. Usage: cpu-worker.js floor|engine|sdk ORIGIN.
 */
import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import { LlmClient, collect } from '../../src/core';
import { Pool } from '../../src/core/http/undici-pool';
import { CONCURRENCY, type Contender, type WorkerCommand, type WorkerReply } from './cpu';

const MESSAGES = [{ role: 'user' as const, content: 'Say some words.' }];

type One = () => Promise<number>;

/** The floor: undici's Pool.request and eventsource-parser, nothing else. Returns the chunks it read. */
function floor(origin: string): One {
  const pool = new Pool(origin, { connections: 64, headersTimeout: 0, bodyTimeout: 0 });
  // The deep-imported Pool lacks the request() API that undici's index adds; take it from undici's api module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const request = require('undici/lib/api/api-request') as (
    this: unknown,
    opts: object,
  ) => Promise<{ statusCode: number; body: AsyncIterable<Buffer> }>;
  return async () => {
    // Built per request, as any client must: each request has its own messages.
    const body = JSON.stringify({
      model: 'm',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const response = await request.call(pool, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' },
      body,
    });
    let text = '';
    let chunks = 0;
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (event) => {
        if (event.data === '[DONE]') return;
        const delta = (JSON.parse(event.data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta
          ?.content;
        if (delta) text += delta;
      },
    });
    for await (const chunk of response.body) {
      chunks++;
      parser.feed(decoder.decode(chunk, { stream: true }));
    }
    if (response.statusCode !== 200 || !text) throw new Error('floor: bad response');
    return chunks;
  };
}

function benchEndpoint(origin: string) {
  return {
    provider: 'openai' as const,
    baseUrl: `${origin}/v1`,
    model: 'm',
    apiKey: 'sk-bench-key',
    concurrency: CONCURRENCY,
  };
}

/** The engine as the extension reads answers: one array of events per network chunk. */
function engine(origin: string): One {
  const client = new LlmClient();
  const endpoint = benchEndpoint(origin);
  return async () => {
    let text = '';
    for await (const chunk of client.streamChunks({ messages: MESSAGES }, { endpoint }))
      for (const event of chunk) if (event.type === 'text') text += event.text;
    if (!text) throw new Error('engine: empty answer');
    return 0;
  };
}

/** The engine one event at a time (`stream()`, folded by `collect`): an async hand-off per event. */
function engineEvents(origin: string): One {
  const client = new LlmClient();
  const endpoint = benchEndpoint(origin);
  return async () => {
    const { text } = await collect(client.stream({ messages: MESSAGES }, { endpoint }));
    if (!text) throw new Error('engine: empty answer');
    return 0;
  };
}

function sdk(origin: string): One {
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'sk-bench', maxRetries: 0 });
  return async () => {
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    if (!text) throw new Error('openai sdk: empty answer');
    return 0;
  };
}

const CONTENDERS: Record<Contender, (origin: string) => One> = { floor, engine, 'engine-events': engineEvents, sdk };

async function run(one: One, count: number): Promise<Omit<WorkerReply, 'id'>> {
  const limit = pLimit(CONCURRENCY);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const chunks = await Promise.all(Array.from({ length: count }, () => limit(one)));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs,
    chunksPerAnswer: chunks.reduce((a, b) => a + b, 0) / count,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

function main(): void {
  const [name, origin] = process.argv.slice(2) as [Contender, string];
  const one = CONTENDERS[name](origin);
  process.on('message', (command: WorkerCommand) => {
    void run(one, command.count).then(
      (result) => process.send?.({ id: command.id, ...result }),
      (error: unknown) => {
        process.stderr.write(`${name}: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

main();
