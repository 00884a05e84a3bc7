/**
 * OpenAI's Batch API against the test server's Files and Batches endpoints:
 * the request file, upload, create, the states a batch goes through, its
 * results by custom id, expiry, cancel and failures.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { HttpError, LlmClient, NetworkError, type Endpoint } from '../../src/core';
import { runBatch, type BatchJob } from '../../src/core/batch';
import { OpenAiBatches, requestFiles } from '../../src/core/batch/provider/openai-batches';
import { FINAL_STATES, type BatchItem, type ProviderBatch } from '../../src/core/batch/provider/provider-batch';
import { SecretScrubber } from '../../src/core/guards/secrets';
import { PoolRegistry } from '../../src/core/http/pools';
import type { BatchApi } from '../server/batch-api';
import { freePort } from '../server/free-port';
import { ask, rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
const KEY = 'sk-batch-test-0123456789';
type Batch = BatchApi['batches'] extends Map<string, infer B> ? B : never;
const promptOf = (request: { body: Record<string, unknown> }): string =>
  (request.body.messages as { content: string }[]).at(-1)!.content;
const pools = new PoolRegistry();

const items = (...prompts: string[]): BatchItem[] =>
  prompts.map((prompt, i) => ({ customId: `item-${i + 1}`, request: ask(prompt) }));

function api(extra: Partial<Endpoint> = {}): OpenAiBatches {
  const target = endpoint('openai', { apiKey: KEY, model: 'gpt-4.1-mini', ...extra });
  return new OpenAiBatches(target, pools, SecretScrubber.of(target));
}

/** Polls until the batch is over, recording each state it was seen in. */
async function pollToEnd(
  batches: OpenAiBatches,
  batch: ProviderBatch,
): Promise<{ last: ProviderBatch; seen: string[] }> {
  const seen: string[] = [batch.state];
  let last = batch;
  for (let i = 0; i < 20 && !FINAL_STATES.has(last.state); i++) {
    last = await batches.get(batch.id);
    seen.push(`${last.state} ${last.counts.completed + last.counts.failed}/${last.counts.total}`);
  }
  return { last, seen };
}

describe('the request file', () => {
  test('one line per item, with the body a live request would send, and split at the limits', () => {
    const target = endpoint('openai', { model: 'gpt-4.1-mini' });
    const [file, ...rest] = requestFiles(target, items('one', 'two')).map((payload) => payload.body);
    expect(rest).toEqual([]);
    const lines = file!
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        custom_id: 'item-1',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'one' }], stream: false },
      },
      {
        custom_id: 'item-2',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'two' }], stream: false },
      },
    ]);
    expect(requestFiles(target, items('a', 'b', 'c', 'd', 'e'), { requests: 2, bytes: 1e9 })).toHaveLength(3);
    const oneLine = Buffer.byteLength(file!.split('\n')[0]!) + 1;
    expect(requestFiles(target, items('one', 'two'), { requests: 100, bytes: oneLine })).toHaveLength(2);
  });
});

describe('a provider batch', () => {
  test('upload, create, poll through its states, and read every result by custom id', async () => {
    server().respond((request) =>
      JSON.stringify(request.body).includes('broken')
        ? { status: 400, error: { message: 'This model does not take that.' } }
        : { tokens: ['Answer to ', String((request.body.messages as { content: string }[])[0]!.content)] },
    );
    server().batches.pace = { itemsPerPoll: 2 };
    const batches = api();
    const [file] = requestFiles(endpoint('openai', { model: 'gpt-4.1-mini' }), items('one', 'broken', 'three')).map(
      (payload) => payload.body,
    );
    const fileId = await batches.upload(file!, 'job.jsonl');
    const created = await batches.create(fileId, { flowgate_job: 'job-1' });
    expect(created.state).toBe('validating');
    const { last, seen } = await pollToEnd(batches, created);
    expect(seen).toEqual(['validating', 'in_progress 0/3', 'in_progress 2/3', 'finalizing 3/3', 'completed 3/3']);
    expect(last.counts).toEqual({ total: 3, completed: 2, failed: 1 });
    const results = await batches.results(last);
    const byId = Object.fromEntries(results.map((r) => [r.customId, 'completion' in r ? r.completion.text : r.error]));
    expect(byId).toEqual({
      'item-1': 'Answer to one',
      'item-2': 'answered 400: This model does not take that.',
      'item-3': 'Answer to three',
    });
    const completion = results.find((r) => r.customId === 'item-1');
    expect(completion && 'completion' in completion && completion.completion.finishReason).toBe('stop');
    expect(server().batches.created).toBe(1);
  });

  test('an expired batch: what finished is read, the rest is reported as expired', async () => {
    server().batches.pace = { itemsPerPoll: 1, expireAfterPolls: 2 };
    const batches = api();
    const [file] = requestFiles(endpoint('openai'), items('one', 'two', 'three')).map((payload) => payload.body);
    const { last } = await pollToEnd(batches, await batches.create(await batches.upload(file!, 'job.jsonl'), {}));
    expect(last.state).toBe('expired');
    const results = await batches.results(last);
    expect(results.filter((r) => 'completion' in r).map((r) => r.customId)).toEqual(['item-1', 'item-2']);
    expect(results.find((r) => r.customId === 'item-3')).toEqual({
      customId: 'item-3',
      error: 'This request could not be executed before the completion window expired.',
    });
  });

  test('cancel: the batch goes cancelling, then cancelled, and unfinished items say so', async () => {
    server().batches.pace = { itemsPerPoll: 1 };
    const batches = api();
    const [file] = requestFiles(endpoint('openai'), items('one', 'two', 'three')).map((payload) => payload.body);
    const created = await batches.create(await batches.upload(file!, 'job.jsonl'), {});
    await batches.get(created.id); // in progress
    await batches.get(created.id); // one done
    expect((await batches.cancel(created.id)).state).toBe('cancelling');
    const { last } = await pollToEnd(batches, await batches.get(created.id));
    expect(last.state).toBe('cancelled');
    const results = await batches.results(last);
    expect(results.filter((r) => 'error' in r).map((r) => r.customId)).toEqual(['item-2', 'item-3']);
  });

  test('a batch that fails validation says why', async () => {
    server().batches.pace = { failValidation: 'The model gpt-4.1-mini is not available for batches.' };
    const batches = api();
    const [file] = requestFiles(endpoint('openai'), items('one')).map((payload) => payload.body);
    const { last } = await pollToEnd(batches, await batches.create(await batches.upload(file!, 'job.jsonl'), {}));
    expect(last).toMatchObject({ state: 'failed', errors: ['The model gpt-4.1-mini is not available for batches.'] });
  });

  test('errors are typed and say what happened; a key echoed in the results is redacted', async () => {
    const batches = api();
    const missing = await rejection(batches.create('file-does-not-exist', {}));
    expect(missing).toBeInstanceOf(HttpError);
    expect(missing.message).toMatch(/answered 404.*No such file/);

    const closed = await freePort();
    const unreachable = api({ baseUrl: `http://127.0.0.1:${closed}/v1` });
    const refused = await rejection(unreachable.get('batch_1'));
    expect(refused).toBeInstanceOf(NetworkError);
    expect(refused.message).toMatch(/refused the connection/);

    server().respond({ tokens: ['The key is ', KEY] });
    const [file] = requestFiles(endpoint('openai'), items('echo')).map((payload) => payload.body);
    const { last } = await pollToEnd(batches, await batches.create(await batches.upload(file!, 'job.jsonl'), {}));
    const [result] = await batches.results(last);
    expect(result).toMatchObject({ customId: 'item-1', completion: { text: 'The key is [redacted]' } });
  });
});

describe('a batch run in provider mode', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowgate-provider-batch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function files(count: number): void {
    mkdirSync(join(dir, 'in'), { recursive: true });
    for (let i = 0; i < count; i++) writeFileSync(join(dir, 'in', `f${String(i).padStart(4, '0')}.txt`), `file ${i}`);
  }

  function job(extra: Partial<BatchJob> = {}): BatchJob {
    return {
      inputs: ['in'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: 'Summarise {{path}}',
      endpoint: endpoint('openai', { apiKey: KEY, model: 'gpt-4.1-mini' }),
      mode: 'provider',
      poll: { firstMs: 1, maxMs: 5 },
      ...extra,
    };
  }

  test('2,000 files: one upload, one provider batch polled to the end, every output written once', async () => {
    files(2000);
    server().respond((request) => ({ tokens: ['About ', /in\/f\d+\.txt/.exec(promptOf(request))![0]] }));
    server().batches.pace = { itemsPerPoll: 700 };
    const states: string[] = [];
    const client = new LlmClient();
    try {
      const report = await runBatch(client, {
        ...job(),
        onProgress: (p) => {
          const b = p.providerBatches?.[0];
          const line = b && `${b.state} ${b.completed}/${b.total}`;
          if (line && states.at(-1) !== line) states.push(line);
        },
      });
      expect(report.summary).toMatchObject({ ok: 2000, failed: 0, total: 2000 });
      // Each item names its provider batch, which is what bills it at the batch price.
      expect(new Set(report.items.map((i) => i.providerBatch))).toEqual(new Set(server().batches.batches.keys()));
    } finally {
      await client.close();
    }
    expect(states).toEqual([
      'in_progress 0/2000',
      'in_progress 700/2000',
      'in_progress 1400/2000',
      'finalizing 2000/2000',
      'completed 2000/2000',
    ]);
    expect(server().batches.created).toBe(1);
    expect(server().requests).toHaveLength(0); // nothing went live
    for (const i of [0, 999, 1999]) {
      const name = `in/f${String(i).padStart(4, '0')}.txt`;
      expect(readFileSync(join(dir, 'out', `${name}.md`), 'utf8')).toBe(`About ${name}`);
    }
  });

  test('an endpoint on the Responses API: the batch runs /v1/responses and its answers are read as such', async () => {
    files(3);
    server().respond((request) => ({ tokens: ['Read ', /in\/f\d+\.txt/.exec(JSON.stringify(request.body))![0]] }));
    const client = new LlmClient();
    const report = await runBatch(
      client,
      job({ endpoint: endpoint('openai-responses', { apiKey: KEY, model: 'gpt-5-mini' }) }),
    ).finally(() => client.close());
    expect(report.summary).toMatchObject({ ok: 3, failed: 0 });
    const [batch] = server().batches.batches.values();
    expect(batch!.endpoint).toBe('/v1/responses');
    const [upload] = [...server().batches.files.values()];
    expect(JSON.parse(upload!.content.split('\n')[0]!)).toMatchObject({
      url: '/v1/responses',
      body: { model: 'gpt-5-mini' },
    });
    expect(readFileSync(join(dir, 'out', 'in', 'f0002.txt.md'), 'utf8')).toBe('Read in/f0002.txt');
  });

  test('polls answered 429 wait as long as the endpoint asks, and do not fail the run however many there are', async () => {
    files(3);
    server().batches.pace = { throttledPolls: 8, retryAfterMs: 40 };
    const client = new LlmClient();
    const started = performance.now();
    const report = await runBatch(client, job()).finally(() => client.close());
    expect(report.summary).toMatchObject({ ok: 3, failed: 0 });
    expect(server().batches.throttled).toBe(8);
    expect(performance.now() - started).toBeGreaterThanOrEqual(8 * 40);
    expect(server().batches.created).toBe(1);
  });

  test('a run whose polling failed resumes polling the same provider batch: none is created twice', async () => {
    files(6);
    server().batches.pace = { itemsPerPoll: 2 };
    const first = new LlmClient();
    // Polling that fails for good (the provider loses track of the batch: 404) fails the items, but the
    // batch stays in the journal.
    const hidden = new Map(server().batches.batches);
    let polls = 0;
    const broken = await runBatch(first, {
      ...job(),
      onProgress: (p) => {
        const id = p.providerBatches?.[0]?.id;
        if (id && ++polls === 2) {
          hidden.set(id, server().batches.batches.get(id)!);
          server().batches.batches.delete(id);
        }
      },
    }).finally(() => first.close());
    expect(server().batches.created).toBe(1);
    expect(broken.summary).toMatchObject({ ok: 0, failed: 6 });
    expect(broken.items[0]!.error).toMatch(/polling provider batch batch_\d+ failed: .*answered 404/);
    // The provider has it again: the next run polls the same batch to its end.
    for (const [id, batch] of hidden) server().batches.batches.set(id, batch);
    const again = new LlmClient();
    const resumed = await runBatch(again, job()).finally(() => again.close());
    expect(resumed.summary).toMatchObject({ ok: 6, failed: 0 });
    expect(server().batches.created).toBe(1);
  });

  test('a file changed before a resumed run collects it: its old answer is not taken, the next run sends it again', async () => {
    files(3);
    server().respond((request) => ({ tokens: [`About ${promptOf(request)}`] }));
    server().batches.pace = { itemsPerPoll: 1 };
    // The first run loses sight of its provider batch (a 404 while polling); it stays in the journal.
    const hidden = new Map<string, Batch>();
    const first = new LlmClient();
    await runBatch(first, {
      ...job({ template: 'Say {{content}}' }),
      onProgress: (p) => {
        const id = p.providerBatches?.[0]?.id;
        if (id && !hidden.size) {
          hidden.set(id, server().batches.batches.get(id)!);
          server().batches.batches.delete(id);
        }
      },
    }).finally(() => first.close());
    writeFileSync(join(dir, 'in', 'f0001.txt'), 'file 1, edited');
    for (const [id, batch] of hidden) server().batches.batches.set(id, batch);
    const second = new LlmClient();
    const resumed = await runBatch(second, job({ template: 'Say {{content}}' })).finally(() => second.close());
    expect(resumed.items.find((i) => i.input === 'in/f0001.txt')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/its content changed after it was sent in provider batch batch_\d+/) as string,
    });
    expect(resumed.summary).toMatchObject({ ok: 2, failed: 1 });
    const third = new LlmClient();
    const last = await runBatch(third, job({ template: 'Say {{content}}' })).finally(() => third.close());
    expect(last.summary).toMatchObject({ ok: 3, resumed: 2 });
    expect(readFileSync(join(dir, 'out', 'in', 'f0001.txt.md'), 'utf8')).toBe('About Say file 1, edited');
    expect(server().batches.created).toBe(2);
  });

  test('Stop cancels the provider batch and says what is billed; the next run collects what it finished', async () => {
    files(6);
    server().batches.pace = { itemsPerPoll: 2 };
    const controller = new AbortController();
    const notices: string[] = [];
    const client = new LlmClient();
    const stopped = await runBatch(client, {
      ...job(),
      signal: controller.signal,
      onNotice: (text) => notices.push(text),
      onProgress: (p) => {
        if ((p.providerBatches?.[0]?.completed ?? 0) >= 2) controller.abort();
      },
    }).finally(() => client.close());
    expect(stopped.summary).toMatchObject({ ok: 0, cancelled: true });
    expect(notices.join('\n')).toMatch(/Cancelled provider batch batch_\d+; requests it had already run are billed/);
    const again = new LlmClient();
    const collected = await runBatch(again, job()).finally(() => again.close());
    expect(collected.summary.ok).toBeGreaterThanOrEqual(2);
    expect(collected.summary.ok + collected.summary.failed).toBe(6);
    expect(collected.items.filter((i) => i.status === 'failed').map((i) => i.error)).toEqual(
      Array(collected.summary.failed).fill('This request was not executed because the batch was cancelled.'),
    );
    expect(server().batches.created).toBe(1);
  });
});
