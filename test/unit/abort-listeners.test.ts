/**
 * One AbortSignal shared by thousands of calls (a batch, a benchmark, the
 * CLI's Ctrl+C) never collects listeners: at most one while calls run, none
 * after, and no MaxListenersExceededWarning at any concurrency.
 */
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { CancelledError, LlmClient, ResponseCache } from '../../src/core';
import { onAbort } from '../../src/core/request/abort';
import type { Script } from '../server/llm-server';
import { ask, useServer } from './helpers';

const { server, endpoint } = useServer();
const warnings: Error[] = [];
const onWarning = (warning: Error): void => void warnings.push(warning);

beforeEach(() => {
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(() => void process.off('warning', onWarning));

/** Successes, retried 503s, rejected 400s, and cacheable duplicates that wait for their leader. */
function mixed(index: number): Script {
  if (index % 9 === 1) return { status: 503, headers: { 'retry-after-ms': '1' } };
  if (index % 13 === 2) return { status: 400, error: { message: 'bad request' } };
  return { tokens: ['a', 'b', 'c'], tokenDelayMs: index % 5 === 0 ? 2 : 0 };
}

test('2,000 calls at concurrency 32 on one signal: at most one listener on it, none after, no warning', async () => {
  const client = new LlmClient({
    retry: { maxAttempts: 2, baseDelayMs: 1 },
    breaker: { failureThreshold: Number.MAX_SAFE_INTEGER },
    cache: new ResponseCache(),
  });
  const shared = new AbortController();
  server().respond((_request, index) => mixed(index));
  let most = 0;
  const sample = setInterval(() => (most = Math.max(most, getEventListeners(shared.signal, 'abort').length)), 1);
  try {
    let next = 0;
    const outcomes = { ok: 0, failed: 0 };
    const worker = async (): Promise<void> => {
      while (next < 2000) {
        const index = next++;
        // Every fourth call is cacheable and identical to others: followers wait on their leader.
        const request = index % 4 === 0 ? { ...ask('same'), temperature: 0 } : ask(`q${index}`);
        try {
          for await (const event of client.stream(request, {
            endpoint: endpoint('openai', { concurrency: 32 }),
            signal: shared.signal,
          }))
            void event;
          outcomes.ok++;
        } catch {
          outcomes.failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(outcomes.ok + outcomes.failed).toBe(2000);
    expect(outcomes.ok).toBeGreaterThan(1500);
    expect(outcomes.failed).toBeGreaterThan(0);
  } finally {
    clearInterval(sample);
    await client.close();
  }
  expect(most).toBeLessThanOrEqual(1);
  expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
});

test('aborting the shared signal stops every call on it, queued or streaming, and leaves no listener', async () => {
  const client = new LlmClient({ retry: { maxAttempts: 1 } });
  const shared = new AbortController();
  server().respond({ tokens: Array.from({ length: 100 }, () => 'x'), tokenDelayMs: 20 });
  const calls = Array.from({ length: 40 }, (_, i) =>
    (async () => {
      for await (const event of client.stream(ask(`q${i}`), {
        endpoint: endpoint('openai', { concurrency: 8 }),
        signal: shared.signal,
      }))
        void event;
    })().then(
      () => 'finished',
      (error: unknown) => (error instanceof CancelledError ? 'cancelled' : String(error)),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
  shared.abort();
  expect(await Promise.all(calls)).toEqual(Array.from({ length: 40 }, () => 'cancelled'));
  expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  await client.close();
});

test('onAbort: each registration is called once, a stopped one never, and the last stop removes the listener', () => {
  const controller = new AbortController();
  const calls: string[] = [];
  const listener = (): void => void calls.push('a');
  onAbort(controller.signal, listener);
  const stopSecond = onAbort(controller.signal, listener);
  const stopThird = onAbort(controller.signal, () => calls.push('c'));
  stopThird();
  stopThird();
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
  controller.abort();
  stopSecond();
  expect(calls).toEqual(['a', 'a']);
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  const other = new AbortController();
  onAbort(other.signal, listener)();
  expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
});
