import { expect, test } from 'vitest';
import { LlmClient, collect, startPrometheusServer } from '../../src/core';
import { ask, rejection, useServer } from './helpers';

const { server, endpoint } = useServer();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser for the text exposition format: enough to check what a Prometheus server would read. */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const type = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const match = /^(\w+)\{(.*)\} (-?[\d.e+]+)$/.exec(line);
    if (!match) throw new Error(`not the exposition format: ${line}`);
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(match[1]!) && !types.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { types, samples };
}

test('the endpoint is scraped over HTTP and its text parses: totals, gauges and histograms', async () => {
  const client = new LlmClient({ retry: { maxAttempts: 2, baseDelayMs: 5 } });
  const exporter = await startPrometheusServer(() => client, 0);
  try {
    server().enqueue({ status: 429, headers: { 'retry-after-ms': '10' } });
    server().respond({ tokens: ['a', 'b'], tokenDelayMs: 5, usage: { input: 3, output: 2 } });
    for (let i = 0; i < 4; i++) await collect(client.stream(ask(), { endpoint: endpoint('openai', { id: 'cloud' }) }));
    server().respond({ status: 400 });
    await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai', { id: 'cloud' }) })));

    const response = await fetch(`http://127.0.0.1:${exporter.port}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { types, samples } = parse(await response.text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(types.get('flowgate_requests_total')).toBe('counter');
    expect(types.get('flowgate_request_duration_seconds')).toBe('histogram');
    expect(value('flowgate_requests_total', { endpoint: 'cloud', outcome: 'ok' })).toBe(4);
    expect(value('flowgate_requests_total', { endpoint: 'cloud', outcome: 'FLOWGATE_HTTP' })).toBe(1);
    expect(value('flowgate_retries_total', { endpoint: 'cloud' })).toBe(1);
    expect(value('flowgate_rate_limited_total', { endpoint: 'cloud' })).toBe(1);
    expect(value('flowgate_tokens_total', { endpoint: 'cloud', direction: 'output' })).toBe(8);
    expect(value('flowgate_in_flight', { endpoint: 'cloud' })).toBe(0);
    const buckets = samples.filter((s) => s.name === 'flowgate_request_duration_seconds_bucket');
    expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b)); // cumulative
    expect(buckets.at(-1)).toMatchObject({ labels: { endpoint: 'cloud', le: '+Inf' }, value: 4 });
    expect(value('flowgate_request_duration_seconds_count', { endpoint: 'cloud' })).toBe(4);
    expect(value('flowgate_request_duration_seconds_sum', { endpoint: 'cloud' })).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${exporter.port}/other`)).status).toBe(404);
  } finally {
    await exporter.close();
    await client.close();
  }
});
