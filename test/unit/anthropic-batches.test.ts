/**
 * Anthropic's Message Batches against the test server: the request body,
 * the states a batch goes through, its results by custom id, expiry,
 * cancel, and a whole provider-mode run on an Anthropic endpoint.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { HttpError, LlmClient, type Endpoint } from '../../src/core';
import { runBatch, type BatchJob } from '../../src/core/batch';
import { AnthropicBatches, batchRequests } from '../../src/core/batch/provider/anthropic-batches';
import { FINAL_STATES, type BatchItem, type ProviderBatch } from '../../src/core/batch/provider/provider-batch';
import { SecretScrubber } from '../../src/core/guards/secrets';
import { PoolRegistry } from '../../src/core/http/pools';
import { ask, rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
const KEY = 'sk-ant-batch-test-0123456789';
const pools = new PoolRegistry();
const promptOf = (body: Record<string, unknown>): string => (body.messages as { content: string }[]).at(-1)!.content;

const items = (...prompts: string[]): BatchItem[] =>
  prompts.map((prompt, i) => ({ customId: `item-${i + 1}`, request: ask(prompt) }));

function api(extra: Partial<Endpoint> = {}): AnthropicBatches {
  const target = endpoint('anthropic', { apiKey: KEY, model: 'claude-haiku-4-5', ...extra });
  return new AnthropicBatches(target, pools, SecretScrubber.of(target));
}

async function pollToEnd(
  batches: AnthropicBatches,
  batch: ProviderBatch,
): Promise<{ last: ProviderBatch; seen: string[] }> {
  const seen: string[] = [];
  let last = batch;
  for (let i = 0; i < 20 && !FINAL_STATES.has(last.state); i++) {
    last = await batches.get(batch.id);
    seen.push(`${last.state} ${last.counts.completed + last.counts.failed}/${last.counts.total}`);
  }
  return { last, seen };
}

describe('Anthropic Message Batches', () => {
  test('the requests carry the Messages API body a live run would send, without stream, split at the limits', () => {
    const target = endpoint('anthropic', { model: 'claude-haiku-4-5' });
    const [payload, ...rest] = batchRequests(target, items('one', 'two'));
    expect(rest).toEqual([]);
    expect(payload!.customIds).toEqual(['item-1', 'item-2']);
    expect(JSON.parse(payload!.body)).toEqual({
      requests: [
        {
          custom_id: 'item-1',
          params: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'one' }], max_tokens: 4096 },
        },
        {
          custom_id: 'item-2',
          params: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'two' }], max_tokens: 4096 },
        },
      ],
    });
    expect(batchRequests(target, items('a', 'b', 'c', 'd', 'e'), { requests: 2, bytes: 1e9 })).toHaveLength(3);
  });

  test('create, poll to the end, read results by custom id; every call carries the key and the API version', async () => {
    server().respond((request) =>
      promptOf(request.body) === 'broken'
        ? { status: 400, error: { message: 'max_tokens: too large for this model' } }
        : { tokens: ['Answer to ', promptOf(request.body)] },
    );
    server().batches.pace = { itemsPerPoll: 2 };
    const batches = api();
    const [payload] = batches.payloads(items('one', 'broken', 'three'));
    const created = await batches.submit(payload!, 'job');
    expect(created).toMatchObject({ state: 'in_progress', counts: { total: 3, completed: 0, failed: 0 } });
    const { last, seen } = await pollToEnd(batches, created);
    expect(seen).toEqual(['in_progress 2/3', 'completed 3/3']);
    expect(last.counts).toEqual({ total: 3, completed: 2, failed: 1 });
    const results = await batches.results(last);
    const byId = Object.fromEntries(results.map((r) => [r.customId, 'completion' in r ? r.completion.text : r.error]));
    expect(byId).toEqual({
      'item-1': 'Answer to one',
      'item-2': 'invalid_request_error: max_tokens: too large for this model',
      'item-3': 'Answer to three',
    });
    expect(server().batches.created).toBe(1);
    // The results are read from the endpoint's own route, never from the results_url the answer names.
    expect(server().batches.calls.map((c) => `${c.method} ${c.path.replace(/msgbatch_\d+/, 'ID')}`)).toEqual([
      'POST /v1/messages/batches',
      'GET /v1/messages/batches/ID',
      'GET /v1/messages/batches/ID',
      'GET /v1/messages/batches/ID/results',
    ]);
    for (const call of server().batches.calls)
      expect(call.headers).toMatchObject({ 'x-api-key': KEY, 'anthropic-version': '2023-06-01' });
  });

  test('expired and cancelled requests are reported as such; a key echoed in an answer is redacted', async () => {
    server().respond({ tokens: ['The key is ', KEY] });
    server().batches.pace = { itemsPerPoll: 1, expireAfterPolls: 1 };
    const batches = api();
    const expired = await pollToEnd(batches, await batches.submit(batches.payloads(items('a', 'b'))[0]!, 'job'));
    expect(expired.last).toMatchObject({ state: 'completed', counts: { total: 2, completed: 1, failed: 1 } });
    const results = await batches.results(expired.last);
    expect(results.find((r) => r.customId === 'item-1')).toMatchObject({
      completion: { text: 'The key is [redacted]' },
    });
    expect(results.find((r) => r.customId === 'item-2')).toEqual({
      customId: 'item-2',
      error: 'This request could not be run before the batch expired (24 hours); run the job again to send it.',
    });

    server().batches.pace = { itemsPerPoll: 1 };
    const created = await batches.submit(batches.payloads(items('a', 'b', 'c'))[0]!, 'job');
    await batches.get(created.id);
    expect((await batches.cancel(created.id)).state).toBe('cancelling');
    const cancelled = await pollToEnd(batches, created);
    expect(cancelled.last.state).toBe('cancelled');
    const after = await batches.results(cancelled.last);
    expect(
      after
        .filter((r) => 'error' in r)
        .map((r) => r.customId)
        .sort(),
    ).toEqual(['item-2', 'item-3']);
  });

  test('errors are typed and say what happened', async () => {
    const batches = api();
    const missing = await rejection(batches.get('msgbatch_missing'));
    expect(missing).toBeInstanceOf(HttpError);
    expect(missing.message).toMatch(/answered 404.*Message batch not found/);
    const invalid = await rejection(
      batches.submit(
        { body: JSON.stringify({ requests: [{ custom_id: 'has space', params: {} }] }), customIds: [] },
        'job',
      ),
    );
    expect(invalid.message).toMatch(/answered 400.*custom_id "has space" must be unique/);
  });
});

describe('a provider-mode run on an Anthropic endpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowgate-anthropic-batch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function job(extra: Partial<BatchJob> = {}): BatchJob {
    return {
      inputs: ['in'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: 'Summarise {{path}}',
      endpoint: endpoint('anthropic', { apiKey: KEY, model: 'claude-haiku-4-5' }),
      mode: 'provider',
      poll: { firstMs: 1, maxMs: 5 },
      ...extra,
    };
  }

  test('300 files: one message batch, every output written, the provider state reported; a rerun creates none', async () => {
    mkdirSync(join(dir, 'in'));
    for (let i = 0; i < 300; i++) writeFileSync(join(dir, 'in', `f${String(i).padStart(3, '0')}.txt`), `file ${i}`);
    server().respond((request) => ({ tokens: ['About ', /in\/f\d+\.txt/.exec(promptOf(request.body))![0]] }));
    server().batches.pace = { itemsPerPoll: 120 };
    const states: string[] = [];
    const client = new LlmClient();
    const report = await runBatch(client, {
      ...job(),
      onProgress: (p) => {
        const b = p.providerBatches?.[0];
        const line = b && `${b.state} ${b.completed}/${b.total}`;
        if (line && states.at(-1) !== line) states.push(line);
      },
    }).finally(() => client.close());
    expect(report.summary).toMatchObject({ ok: 300, failed: 0, total: 300 });
    expect(states).toEqual(['in_progress 120/300', 'in_progress 240/300', 'completed 300/300']);
    expect(readFileSync(join(dir, 'out', 'in', 'f123.txt.md'), 'utf8')).toBe('About in/f123.txt');
    expect(report.items.every((i) => i.providerBatch?.startsWith('msgbatch_'))).toBe(true);
    expect(server().requests).toHaveLength(0);
    const again = new LlmClient();
    const rerun = await runBatch(again, job()).finally(() => again.close());
    expect(rerun.summary).toMatchObject({ ok: 300, resumed: 300 });
    expect(server().batches.created).toBe(1);
  });

  test('an Ollama endpoint has no batch API: the run says so and sends nothing', async () => {
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.txt'), 'a');
    const client = new LlmClient();
    const failure = await rejection(runBatch(client, job({ endpoint: endpoint('ollama') }))).finally(() =>
      client.close(),
    );
    expect(failure.message).toMatch(/is an ollama endpoint, which has no batch API; run it live/);
    expect(server().requests).toHaveLength(0);
  });
});
