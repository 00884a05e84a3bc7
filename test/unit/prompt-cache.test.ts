/**
 * Prompt caching of a batch's shared beginning: how each provider is asked
 * for it, the one request sent alone to write the cache, what the test
 * server's cache model reports back, the estimate and the cost comparison,
 * and `auto` mode's choice.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LlmClient } from '../../src/core';
import {
  chooseMode,
  compareModes,
  estimateBatch,
  jobIdOf,
  runBatch,
  type BatchJob,
  type BatchReport,
} from '../../src/core/batch';
import { sharedPrefix } from '../../src/core/batch/template';
import { anthropic } from '../../src/core/providers/anthropic';
import { openai } from '../../src/core/providers/openai';
import type { ChatRequest, Endpoint } from '../../src/core/types';
import { useServer } from './helpers';

const { server, endpoint } = useServer();
/** An instruction long enough to be cached (over 1,024 tokens at four characters a token). */
const INSTRUCTION = `You review code against the team's style guide.\n${'Rule: prefer small functions with names that say what they do. '.repeat(80)}\n`;
const TEMPLATE = `${INSTRUCTION}Review {{path}}:\n\n{{content}}`;
const PREFIX_TOKENS = Math.ceil(sharedPrefix(TEMPLATE).length / 4);

describe('the request', () => {
  const cached = (sharedChars: number, ttl: '5m' | '1h' = '5m'): ChatRequest => ({
    messages: [{ role: 'user', content: 'Shared part. The file.' }],
    system: 'Be brief.',
    promptCache: { key: 'flowgate-job', ttl, sharedChars },
  });

  test('Anthropic: the shared beginning is its own block, marked for the cache; the hour when asked', () => {
    const target: Endpoint = { provider: 'anthropic', baseUrl: 'https://api.anthropic.com', model: 'claude' };
    const body = (request: ChatRequest): Record<string, unknown> =>
      JSON.parse(anthropic.encode(target, request, true).body) as Record<string, unknown>;
    expect(body(cached(13))).toMatchObject({
      system: 'Be brief.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Shared part. ', cache_control: { type: 'ephemeral' } },
            { type: 'text', text: 'The file.' },
          ],
        },
      ],
    });
    expect(body(cached(13, '1h')).messages).toMatchObject([
      { content: [{ cache_control: { type: 'ephemeral', ttl: '1h' } }, {}] },
    ]);
    // Nothing shared in the message: the system prompt is what is cached.
    expect(body(cached(0))).toMatchObject({
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Shared part. The file.' }],
    });
    expect(body({ messages: [{ role: 'user', content: 'Hi' }] })).toMatchObject({
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  test('OpenAI: one prompt_cache_key for the job; the prompt is left as it is (OpenAI caches prefixes by itself)', () => {
    const target: Endpoint = { provider: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt' };
    const body = JSON.parse(openai.encode(target, cached(13), true).body) as Record<string, unknown>;
    expect(body).toMatchObject({
      prompt_cache_key: 'flowgate-job',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Shared part. The file.' },
      ],
    });
  });

  test('the shared beginning is the template up to its first placeholder, or all of it when the file is appended', () => {
    expect(sharedPrefix('Review {{path}}:\n{{content}}')).toBe('Review ');
    expect(sharedPrefix('{{content}}\nSummarise it.')).toBe('');
    expect(sharedPrefix('Summarise this file.')).toBe('Summarise this file.\n\n');
  });
});

describe('a batch run with prompt caching', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowgate-prompt-cache-'));
    mkdirSync(join(dir, 'in'));
    for (let i = 0; i < 12; i++)
      writeFileSync(join(dir, 'in', `f${String(i).padStart(2, '0')}.ts`), `export const x${i} = ${i};`);
    server().promptCaching = true;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function job(provider: 'openai' | 'anthropic', extra: Partial<BatchJob> = {}): BatchJob {
    return {
      inputs: ['in'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: TEMPLATE,
      endpoint: endpoint(provider, { apiKey: 'sk-test-cache-0123456789' }),
      concurrency: 4,
      promptCache: '5m',
      ...extra,
    };
  }

  async function run(batchJob: BatchJob): Promise<BatchReport> {
    const client = new LlmClient();
    return runBatch(client, batchJob).finally(() => client.close());
  }

  test('Anthropic live: one request alone writes the cache, then the rest fan out and read it', async () => {
    server().respond({ tokens: ['Looks fine.'], headersDelayMs: 150 });
    const report = await run(job('anthropic'));
    expect(report.summary).toMatchObject({ ok: 12, failed: 0 });
    const [first, second, ...rest] = server().arrivals;
    expect(second! - first!).toBeGreaterThanOrEqual(140); // the second waited for the first answer
    expect(Math.max(...rest) - second!).toBeLessThan(140 * 3); // the rest went four at a time, not one by one
    const writes = report.items.filter((i) => i.cacheWriteInputTokens);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.cacheWriteInputTokens).toBe(PREFIX_TOKENS);
    expect(report.items.filter((i) => i.cachedInputTokens === PREFIX_TOKENS)).toHaveLength(11);
    expect(report.summary.cachedInputTokens).toBe(11 * PREFIX_TOKENS);
  });

  test("OpenAI live: every request carries the job's one prompt_cache_key; all but the first read the cache", async () => {
    const report = await run(job('openai'));
    const keys = new Set(server().requests.map((r) => r.body.prompt_cache_key));
    expect(keys).toEqual(new Set([`flowgate-${jobIdOf(job('openai'))}`]));
    expect(report.items.filter((i) => (i.cachedInputTokens ?? 0) >= 1024)).toHaveLength(11);
  });

  test('Anthropic provider batch: the requests carry the cache mark and the report counts what was read', async () => {
    const report = await run(job('anthropic', { mode: 'provider', poll: { firstMs: 1, maxMs: 5 } }));
    expect(report.summary).toMatchObject({ ok: 12, mode: 'provider' });
    expect(report.summary.cachedInputTokens).toBe(11 * PREFIX_TOKENS);
    const [batch] = server().batches.batches.values();
    expect(batch!.lines[0]!.body.messages).toMatchObject([{ content: [{ cache_control: { type: 'ephemeral' } }, {}] }]);
  });

  test('off: no cache mark, no key, no request held back', async () => {
    server().respond({ tokens: ['Looks fine.'], headersDelayMs: 100 });
    const report = await run(job('anthropic', { promptCache: 'off' }));
    expect(report.summary.cachedInputTokens).toBe(0);
    expect(JSON.stringify(server().requests.map((r) => r.body))).not.toContain('cache_control');
    const [first, second] = server().arrivals;
    expect(second! - first!).toBeLessThan(90);
  });

  test('a shared beginning too short to cache holds no request back; Ollama gets no cache hint at all', async () => {
    server().respond({ tokens: ['Looks fine.'], headersDelayMs: 100 });
    await run(job('anthropic', { template: 'Review {{path}}:\n\n{{content}}' }));
    const [first, second] = server().arrivals;
    expect(second! - first!).toBeLessThan(90);
    server().reset();
    server().respond({ tokens: ['Looks fine.'] });
    await run(job('anthropic', { endpoint: endpoint('ollama'), outDir: join(dir, 'out-ollama') }));
    expect(server().requests).toHaveLength(12);
    expect(JSON.stringify(server().requests.map((r) => r.body))).not.toMatch(/cache_control|prompt_cache_key/);
  });

  test('the estimate counts the shared prefix once written and then read; the comparison prices both modes', async () => {
    const estimate = await estimateBatch(job('anthropic'));
    expect(estimate).toMatchObject({
      toSend: 12,
      sharedPrefixTokens: PREFIX_TOKENS,
      cachedInputTokens: 11 * PREFIX_TOKENS,
      cacheWriteInputTokens: PREFIX_TOKENS,
    });
    const price = { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75, batch: 0.5 };
    const compared = compareModes(estimate, { provider: 'anthropic' }, price, { minFiles: 10, deadlineMs: 86_400_000 });
    const fresh = estimate.inputTokens - 12 * PREFIX_TOKENS;
    const prompts = (fresh * 3 + 11 * PREFIX_TOKENS * 0.3 + PREFIX_TOKENS * 3.75) / 1e6;
    expect(compared.live.cost!.prompts).toBeCloseTo(prompts, 12);
    expect(compared.live.cost!.upTo).toBeCloseTo(prompts + (estimate.maxOutputTokens * 15) / 1e6, 12);
    expect(compared.provider!.cost!.upTo).toBeCloseTo(compared.live.cost!.upTo / 2, 12);
    expect(compared.auto).toMatchObject({ mode: 'provider' });
    const uncached = await estimateBatch(job('anthropic', { promptCache: 'off' }));
    expect(uncached).toMatchObject({ cachedInputTokens: 0, cacheWriteInputTokens: 0 });
  });
});

describe('auto mode', () => {
  const day = 86_400_000;
  test('a provider batch for a large run whose deadline allows the 24-hour window; live otherwise, saying why', () => {
    expect(chooseMode(500, { provider: 'openai' }, { minFiles: 100, deadlineMs: day })).toMatchObject({
      mode: 'provider',
    });
    expect(chooseMode(500, { provider: 'anthropic' }, { minFiles: 100, deadlineMs: 2 * day }).mode).toBe('provider');
    expect(chooseMode(50, { provider: 'openai' }, { minFiles: 100, deadlineMs: day })).toEqual({
      mode: 'live',
      why: 'live: 50 file(s) to send, fewer than the 100 a provider batch is used for',
    });
    expect(chooseMode(500, { provider: 'openai' }, { minFiles: 100, deadlineMs: 2 * 3_600_000 })).toEqual({
      mode: 'live',
      why: "live: the deadline (2 h) is shorter than the provider's 24-hour window",
    });
    expect(chooseMode(500, { provider: 'ollama' }).mode).toBe('live');
  });

  test('a run in auto mode says what it chose and runs that way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowgate-auto-'));
    try {
      mkdirSync(join(dir, 'in'));
      for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'in', `f${i}.txt`), `file ${i}`);
      const base: BatchJob = {
        inputs: ['in'],
        cwd: dir,
        outDir: join(dir, 'out'),
        template: 'Summarise {{content}}',
        endpoint: endpoint('openai'),
        mode: 'auto',
        poll: { firstMs: 1, maxMs: 5 },
      };
      const notices: string[] = [];
      const client = new LlmClient();
      const live = await runBatch(client, {
        ...base,
        auto: { minFiles: 10, deadlineMs: day },
        onNotice: (n) => notices.push(n),
      });
      expect(live.summary).toMatchObject({ ok: 5, mode: 'live' });
      expect(notices).toEqual([
        'Batch mode auto: live: 5 file(s) to send, fewer than the 10 a provider batch is used for.',
      ]);
      rmSync(join(dir, 'out'), { recursive: true });
      const provider = await runBatch(client, { ...base, auto: { minFiles: 5, deadlineMs: day } }).finally(() =>
        client.close(),
      );
      expect(provider.summary).toMatchObject({ ok: 5, mode: 'provider' });
      expect(server().batches.created).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
