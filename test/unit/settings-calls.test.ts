import { Readable } from 'node:stream';
/**
 * From `flowgate.endpoints` to requests on the wire, the way the extension
 * host makes them (settings-model, then keys, then the client), against
 * test servers on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { LlmClient, collect, type Endpoint, type StreamEvent } from '../../src/core';
import { runBatch } from '../../src/core/batch';
import { endpointWithKey, type StoredKey } from '../../src/host/endpoints/keys';
import { chainOf, parseEndpoints } from '../../src/host/settings/settings-model';
import { selfSignedCertificate } from '../server/certificate';
import { TestLlmServer } from '../server/llm-server';
import { ONE_ATTEMPT, ask } from './helpers';

let primary: TestLlmServer;
let backup: TestLlmServer;
let client: LlmClient;
beforeAll(async () => {
  [primary, backup] = await Promise.all([TestLlmServer.start(), TestLlmServer.start()]);
});
afterEach(async () => {
  await client?.close();
  primary.reset();
  backup.reset();
});
afterAll(() => Promise.all([primary.close(), backup.close()]));

/** What EngineHost.endpointChain does: the endpoint and its fallbacks, each with the key stored for its own origin. */
function callFor(
  raw: unknown[],
  id: string,
  keys: Record<string, StoredKey>,
): { endpoint: Endpoint; fallbacks: Endpoint[] } {
  const { endpoints, problems } = parseEndpoints(raw);
  expect(problems).toEqual([]);
  const [endpoint, ...fallbacks] = chainOf(
    endpoints,
    endpoints.find((e) => e.id === id)!,
  ).map((s) => endpointWithKey(s, keys[s.id]).endpoint);
  return { endpoint: endpoint!, fallbacks };
}

const settings = (primaryUrl: string) => [
  {
    id: 'cloud',
    provider: 'openai',
    baseUrl: `${primaryUrl}/v1`,
    model: 'big',
    fallbacks: ['local'],
    headers: { 'x-gateway-key': 'gw-secret-1' },
    params: { top_p: 0.9 },
  },
  { id: 'local', provider: 'ollama', baseUrl: backup.origin, model: 'small', headers: { 'x-proxy': 'p' } },
];

test('a 503 from the endpoint fails over to its fallback; each gets only its own key, headers and params', async () => {
  client = new LlmClient(ONE_ATTEMPT);
  primary.respond({ status: 503 });
  backup.respond({ tokens: ['from ', 'local'] });
  const keys = {
    cloud: { origin: primary.origin, key: 'sk-cloud' },
    local: { origin: backup.origin, key: 'sk-local' },
  };
  const events: StreamEvent[] = [];
  for await (const event of client.stream(ask(), callFor(settings(primary.origin), 'cloud', keys))) events.push(event);
  expect(events.find((e) => e.type === 'failover')).toMatchObject({ from: 'cloud', to: 'local' });
  expect((await collect(Readable.from(events))).text).toBe('from local');

  const [sent] = primary.requests;
  expect(sent!.headers).toMatchObject({ authorization: 'Bearer sk-cloud', 'x-gateway-key': 'gw-secret-1' });
  expect(sent!.body).toMatchObject({ model: 'big', top_p: 0.9 });
  const [fellBack] = backup.requests;
  expect(fellBack!.headers).toMatchObject({ authorization: 'Bearer sk-local', 'x-proxy': 'p' });
  expect(fellBack!.headers['x-gateway-key']).toBeUndefined();
  expect(fellBack!.body.model).toBe('small');
  expect(fellBack!.body.top_p).toBeUndefined();
});

test('a refused connection fails over too; a fallback key stored for another origin stays home', async () => {
  client = new LlmClient(ONE_ATTEMPT);
  const gone = await TestLlmServer.start();
  const refused = gone.origin;
  await gone.close();
  const keys = { local: { origin: 'https://api.example.com', key: 'sk-elsewhere' } };
  const completion = await collect(client.stream(ask(), callFor(settings(refused), 'cloud', keys)));
  expect(completion.text).toBe('Hello, world!');
  expect(backup.requests).toHaveLength(1);
  expect(backup.requests[0]!.headers.authorization).toBeUndefined();
});

test('the fallback is used only as a fallback: a healthy endpoint answers itself', async () => {
  client = new LlmClient(ONE_ATTEMPT);
  await collect(client.stream(ask(), callFor(settings(primary.origin), 'cloud', {})));
  expect(primary.requests).toHaveLength(1);
  expect(backup.requests).toHaveLength(0);
});

test('"http2": true in the settings reaches the connection pool', async () => {
  const certificate = selfSignedCertificate();
  const tls = await TestLlmServer.start(certificate);
  client = new LlmClient({ ...ONE_ATTEMPT, ca: certificate.cert });
  try {
    const raw = [
      { id: 'h2', provider: 'openai', baseUrl: `${tls.origin}/v1`, model: 'm', http2: true },
      { id: 'h1', provider: 'openai', baseUrl: `${tls.origin}/v1`, model: 'm' },
    ];
    await collect(client.stream(ask(), callFor(raw, 'h2', {})));
    await collect(client.stream(ask(), callFor(raw, 'h1', {})));
    expect(tls.requests.map((r) => r.httpVersion)).toEqual(['2.0', '1.1']);
  } finally {
    await tls.close();
  }
});

test('a batch fails over the same way, file by file', async () => {
  client = new LlmClient(ONE_ATTEMPT);
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-settings-batch-'));
  try {
    writeFileSync(join(dir, 'a.txt'), 'first');
    writeFileSync(join(dir, 'b.txt'), 'second');
    primary.respond({ status: 503 });
    backup.respond({ tokens: ['done'] });
    const report = await runBatch(client, {
      inputs: ['.'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: '{{content}}',
      ...callFor(settings(primary.origin), 'cloud', {}),
    });
    expect(report.summary).toMatchObject({ ok: 2, failed: 0 });
    expect(readFileSync(join(dir, 'out', 'a.txt.md'), 'utf8')).toBe('done');
    expect(backup.requests).toHaveLength(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
