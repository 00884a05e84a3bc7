import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EndpointHistograms, LlmClient } from '../request/client';
import type { Histogram } from './histogram';
import type { MetricsSnapshot } from './metrics';

/** Bucket bounds in seconds, from a fast local model to a long answer. */
const BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The client's metrics in Prometheus' text exposition format (version
 * 0.0.4): request totals by endpoint and outcome, retries, 429s, tokens,
 * requests in flight and queued, and latency and time-to-first-token
 * histograms.
 */
export function formatPrometheus(snapshot: MetricsSnapshot, histograms: EndpointHistograms[]): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const e = snapshot.endpoints;
  family(
    'flowgate_requests_total',
    'counter',
    'Finished requests by endpoint and outcome (ok, or the error code).',
    e.flatMap((s) => [
      sample('flowgate_requests_total', { endpoint: s.id, outcome: 'ok' }, s.succeeded),
      ...Object.entries(s.failed).map(([code, n]) =>
        sample('flowgate_requests_total', { endpoint: s.id, outcome: code }, n),
      ),
    ]),
  );
  family(
    'flowgate_retries_total',
    'counter',
    'Retried attempts by endpoint.',
    e.map((s) => sample('flowgate_retries_total', { endpoint: s.id }, s.retries)),
  );
  family(
    'flowgate_rate_limited_total',
    'counter',
    '429 responses by endpoint.',
    e.map((s) => sample('flowgate_rate_limited_total', { endpoint: s.id }, s.rateLimited)),
  );
  family(
    'flowgate_tokens_total',
    'counter',
    'Tokens by endpoint and direction.',
    e.flatMap((s) => [
      sample('flowgate_tokens_total', { endpoint: s.id, direction: 'input' }, s.inputTokens),
      sample('flowgate_tokens_total', { endpoint: s.id, direction: 'output' }, s.outputTokens),
    ]),
  );
  family(
    'flowgate_in_flight',
    'gauge',
    'Requests on the wire by endpoint.',
    e.map((s) => sample('flowgate_in_flight', { endpoint: s.id }, s.inFlight)),
  );
  family(
    'flowgate_queued',
    'gauge',
    'Requests waiting for admission by endpoint.',
    e.map((s) => sample('flowgate_queued', { endpoint: s.id }, s.queued)),
  );
  family(
    'flowgate_request_duration_seconds',
    'histogram',
    'Successful request duration, queueing and retries included.',
    histograms.flatMap((h) => histogramSamples('flowgate_request_duration_seconds', h.id, h.latency)),
  );
  family(
    'flowgate_time_to_first_token_seconds',
    'histogram',
    'Time from the call to its first token.',
    histograms.flatMap((h) => histogramSamples('flowgate_time_to_first_token_seconds', h.id, h.ttft)),
  );
  return `${lines.join('\n')}\n`;
}

function histogramSamples(name: string, endpoint: string, histogram: Histogram): string[] {
  const cumulative = histogram.cumulative(BUCKETS_S.map((s) => s * 1000));
  return [
    ...BUCKETS_S.map((le, i) => sample(`${name}_bucket`, { endpoint, le: String(le) }, cumulative[i]!)),
    sample(`${name}_bucket`, { endpoint, le: '+Inf' }, histogram.count),
    sample(`${name}_sum`, { endpoint }, Math.round(histogram.sum) / 1000),
    sample(`${name}_count`, { endpoint }, histogram.count),
  ];
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
  return `${name}{${text}} ${value}`;
}

/**
 * Serves GET /metrics on 127.0.0.1 only: the figures name endpoints and
 * models, which is nobody else's business on the network.
 */
export async function startPrometheusServer(
  client: () => LlmClient,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Flowgate serves /metrics only.\n');
      return;
    }
    const current = client();
    response
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      .end(formatPrometheus(current.metrics(), current.histograms()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
