import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { AuthError, HttpError, RedirectError, TimeoutError, type EndpointSnapshot } from '../../src/core';
import { DeltaBatcher } from '../../src/host/chat/delta-batcher';
import { errorText } from '../../src/host/error-text';
import { keyForEndpoint, parseStoredKey } from '../../src/host/endpoints/keys';
import { requestLogLine } from '../../src/host/chat/log-format';
import {
  DEFAULT_ENDPOINT,
  activeEndpoint,
  chainOf,
  clientOptionsFrom,
  engineEndpoint,
  parseEndpoints,
} from '../../src/host/settings/settings-model';
import { statusView } from '../../src/host/monitor/status-format';
import { isWebviewToHost } from '../../src/protocol';
import { translate } from './helpers';

const root = join(__dirname, '..', '..');
const t = translate;

describe('settings', () => {
  test('no setting: one local Ollama endpoint', () => {
    expect(parseEndpoints(undefined)).toEqual({ endpoints: [DEFAULT_ENDPOINT], problems: [] });
  });

  test('keeps good entries and says what is wrong with the others', () => {
    const { endpoints, problems } = parseEndpoints([
      {
        id: 'cloud',
        provider: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        model: 'gpt-4o-mini',
        rpm: 500,
        extra: 'dropped',
      },
      { id: 'cloud', provider: 'openai', baseUrl: 'https://x/v1', model: 'm' },
      { id: 'bad', provider: 'gemini', baseUrl: 'https://x', model: 'm' },
      { id: 'creds', provider: 'ollama', baseUrl: 'http://u:p@127.0.0.1:11434', model: 'm' },
      { id: 'slow', provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'm', rpm: -1 },
      'nonsense',
    ]);
    expect(endpoints).toEqual([
      {
        id: 'cloud',
        provider: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        model: 'gpt-4o-mini',
        rpm: 500,
        tpm: undefined,
        concurrency: undefined,
      },
    ]);
    expect(problems).toEqual([
      'flowgate.endpoints[1]: the id "cloud" is used twice.',
      'flowgate.endpoints[2]: "provider" must be openai, openai-responses, anthropic or ollama.',
      'flowgate.endpoints[3]: The base URL must not contain a user name or password; give the key separately.',
      'flowgate.endpoints[4]: "rpm" must be a positive number.',
      'flowgate.endpoints[5]: each endpoint must be an object.',
    ]);
  });

  test('fallbacks, http2, headers and params are kept as written', () => {
    const { endpoints, problems } = parseEndpoints([
      {
        id: 'cloud',
        provider: 'openai',
        baseUrl: 'https://gw.example/v1',
        model: 'm',
        fallbacks: ['local'],
        http2: true,
        headers: { 'X-Route': 'a' },
        params: { temperature: 0.2 },
      },
      { id: 'local', provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'llama3.2', fallbacks: ['cloud'] },
    ]);
    expect(problems).toEqual([]);
    expect(endpoints[0]).toEqual({
      id: 'cloud',
      provider: 'openai',
      baseUrl: 'https://gw.example/v1',
      model: 'm',
      fallbacks: ['local'],
      http2: true,
      headers: { 'X-Route': 'a' },
      params: { temperature: 0.2 },
    });
    // Only an endpoint's own list is followed, so two may name each other.
    expect(chainOf(endpoints, endpoints[0]!).map((e) => e.id)).toEqual(['cloud', 'local']);
    expect(chainOf(endpoints, endpoints[1]!).map((e) => e.id)).toEqual(['local', 'cloud']);
    expect(engineEndpoint(endpoints[0]!)).not.toHaveProperty('fallbacks');
  });

  test('says what is wrong with fallbacks, http2, headers and params, never a header value', () => {
    const base = { provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'm' };
    const { endpoints, problems } = parseEndpoints([
      { ...base, id: 'a', fallbacks: ['x'] },
      { ...base, id: 'b', fallbacks: ['b'] },
      { ...base, id: 'c', fallbacks: ['ok', 'ok'] },
      { ...base, id: 'd', fallbacks: 'ok' },
      { ...base, id: 'e', http2: 'yes' },
      { ...base, id: 'f', headers: { Authorization: 'Bearer sk-leak-1' } },
      { ...base, id: 'g', headers: { 'x-token': 'line\nbreak-secret' } },
      { ...base, id: 'h', params: { stream: false } },
      { ...base, id: 'ok' },
    ]);
    expect(endpoints.map((e) => e.id)).toEqual(['ok']);
    expect(problems).toEqual([
      'flowgate.endpoints[0]: fallbacks: no endpoint with id "x".',
      'flowgate.endpoints[1]: fallbacks: "b" is this endpoint itself.',
      'flowgate.endpoints[2]: fallbacks: "ok" is listed twice.',
      'flowgate.endpoints[3]: fallbacks: must be a list of endpoint ids, e.g. ["local"].',
      'flowgate.endpoints[4]: "http2" must be true or false.',
      'flowgate.endpoints[5]: headers: "Authorization" carries the API key, which Flowgate adds itself from its key store; it cannot be set here.',
      'flowgate.endpoints[6]: headers: the value of "x-token" holds a line break, a control character or a character beyond Latin-1.',
      'flowgate.endpoints[7]: params: "stream" is set by Flowgate and cannot be overridden.',
    ]);
    expect(problems.join('\n')).not.toMatch(/sk-leak|break-secret/);
  });

  test('a fallback that was left out leaves out the endpoints that rely on it, in turn', () => {
    const base = { provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'm' };
    const { endpoints, problems } = parseEndpoints([
      { ...base, id: 'first', fallbacks: ['second'] },
      { ...base, id: 'second', fallbacks: ['broken'] },
      { ...base, id: 'broken', baseUrl: 'not a url' },
      { ...base, id: 'alone' },
    ]);
    expect(endpoints.map((e) => e.id)).toEqual(['alone']);
    expect(problems).toEqual([
      'flowgate.endpoints[0]: fallbacks: the endpoint "second" was left out (see its own problem).',
      'flowgate.endpoints[1]: fallbacks: the endpoint "broken" was left out (see its own problem).',
      'flowgate.endpoints[2]: The base URL "not a url" is not a URL; write it like http://127.0.0.1:11434.',
    ]);
  });

  test('the active endpoint falls back to the first', () => {
    const endpoints = [DEFAULT_ENDPOINT, { ...DEFAULT_ENDPOINT, id: 'second' }];
    expect(activeEndpoint({ endpoints, activeEndpoint: 'second' })?.id).toBe('second');
    expect(activeEndpoint({ endpoints, activeEndpoint: 'gone' })?.id).toBe('ollama');
  });

  test('settings become client options', () => {
    const options = clientOptionsFrom({
      timeouts: { idleMs: 5000 },
      maxAttempts: 2,
      proxy: { proxy: 'http://p:1', noProxy: [], strictSSL: false },
    });
    expect(options).toEqual({
      timeouts: { idleMs: 5000 },
      retry: { maxAttempts: 2 },
      proxy: { proxy: 'http://p:1', noProxy: [], strictSSL: false },
    });
  });
});

describe('API keys are bound to their origin', () => {
  const endpoint = { provider: 'openai' as const, baseUrl: 'https://api.openai.com/v1', model: 'm' };

  test('sent to the origin it was stored for, whatever the path', () => {
    expect(
      keyForEndpoint(
        { ...endpoint, baseUrl: 'https://api.openai.com/v2' },
        { origin: 'https://api.openai.com', key: 'sk-1' },
      ),
    ).toEqual({ key: 'sk-1' });
  });

  test('not sent when the endpoint now points elsewhere', () => {
    expect(
      keyForEndpoint(
        { ...endpoint, baseUrl: 'https://collector.example/v1' },
        { origin: 'https://api.openai.com', key: 'sk-1' },
      ),
    ).toEqual({ movedFrom: 'https://api.openai.com' });
    expect(
      keyForEndpoint(
        { ...endpoint, baseUrl: 'http://api.openai.com/v1' },
        { origin: 'https://api.openai.com', key: 'sk-1' },
      ).key,
    ).toBeUndefined();
  });

  test('a malformed stored value is no key', () => {
    expect(parseStoredKey('{"key":"x"}')).toBeUndefined();
    expect(parseStoredKey('not json')).toBeUndefined();
    expect(parseStoredKey(JSON.stringify({ origin: 'https://a', key: 'k' }))).toEqual({
      origin: 'https://a',
      key: 'k',
    });
  });
});

function snapshot(overrides: Partial<EndpointSnapshot> = {}): EndpointSnapshot {
  const empty = { recent: { count: 0 }, sinceStart: { count: 0 } };
  return {
    id: 'cloud',
    provider: 'openai',
    origin: 'https://api.example.com',
    model: 'gpt-4o-mini',
    requests: 10,
    inFlight: 0,
    queued: 0,
    succeeded: 9,
    failed: { FLOWGATE_TIMEOUT: 1 },
    retries: 2,
    rateLimited: 1,
    inputTokens: 100,
    outputTokens: 200,
    outputTokensPerSecond: 42.5,
    latencyMs: { recent: { count: 9, p50: 420, p95: 900, p99: 1200 }, sinceStart: { count: 9 } },
    ttftMs: empty,
    firstOutputMs: empty,
    queueWaitMs: empty,
    oldestQueuedMs: 0,
    breaker: 'closed',
    quota: { requests: { limit: 500, remaining: 400, resetAt: 61_000 }, tokens: {} },
    ...overrides,
  };
}

describe('status bar', () => {
  test('idle: model, quota headroom and recent latency', () => {
    expect(statusView('gpt-4o-mini', snapshot(), t, 1000)).toMatchObject({
      text: '$(pulse) gpt-4o-mini · 80% quota · 420 ms',
      warning: false,
    });
  });

  test('busy: running and queued', () => {
    expect(statusView('m', snapshot({ inFlight: 2, queued: 3 }), t).text).toBe(
      '$(sync~spin) 2 running · 3 queued · 80% quota · 420 ms',
    );
  });

  test('warning under 10% quota or with the breaker open', () => {
    expect(
      statusView('m', snapshot({ quota: { requests: { limit: 500, remaining: 20 }, tokens: {} } }), t),
    ).toMatchObject({ warning: true, text: '$(warning) m · 4% quota · 420 ms' });
    expect(statusView('m', snapshot({ breaker: 'open' }), t).warning).toBe(true);
  });

  test('the tooltip has requests, errors by kind, percentiles, tokens/s and quota with its reset', () => {
    const { tooltip } = statusView('m', snapshot(), t, 1000);
    expect(tooltip).toContain('| Requests | 10 (9 ok, 0 running, 0 queued) |');
    expect(tooltip).toContain('| Errors | 1 timeout |');
    expect(tooltip).toContain('| Latency p50 / p95 / p99 | 420 ms / 900 ms / 1.2 s |');
    expect(tooltip).toContain('| Output tokens/s | 42.5 |');
    expect(tooltip).toContain('| Requests quota | 400 / 500, resets in 1 min |');
    expect(tooltip).toContain('| Tokens quota | not reported |');
    expect(tooltip).toContain('| Limits | this window only |');
  });

  test('the tooltip says whether limits are shared, by how many, and what happens while Redis is away', () => {
    const shared = { where: 'redis://10.0.0.5:6379', connected: true, participants: 3 };
    expect(statusView('m', snapshot({ shared }), t, 1000).tooltip).toContain(
      '| Limits | shared through redis://10.0.0.5:6379 by 3 Flowgate process(es) |',
    );
    const lost = { ...shared, connected: false, problem: 'redis://10.0.0.5:6379: Connection is closed.' };
    expect(statusView('m', snapshot({ shared: lost }), t, 1000).tooltip).toContain(
      '| Limits | Redis unavailable (redis://10.0.0.5:6379: Connection is closed.): this window keeps to 1/3 of the limits |',
    );
    // The item itself says so, in the warning colour, until Redis answers again.
    expect(statusView('m', snapshot({ shared: lost }), t, 1000)).toMatchObject({
      warning: true,
      text: '$(warning) m · Redis unavailable · 80% quota · 420 ms',
    });
    expect(statusView('m', snapshot({ shared }), t, 1000)).toMatchObject({
      warning: false,
      text: '$(pulse) m · 80% quota · 420 ms',
    });
  });

  test('before any request', () => {
    expect(statusView('llama3.2', undefined, t)).toEqual({
      text: '$(pulse) llama3.2',
      tooltip: 'Flowgate: no requests yet to llama3.2.',
      warning: false,
    });
  });
});

describe('DeltaBatcher (fake time)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test('a thousand tokens in a second become about thirty posts of new text only', () => {
    const posts: string[] = [];
    const batcher = new DeltaBatcher((text) => posts.push(text), 33);
    for (let i = 0; i < 1000; i++) {
      batcher.push(`${i} `);
      vi.advanceTimersByTime(1);
    }
    batcher.flush();
    expect(posts.length).toBeGreaterThanOrEqual(29);
    expect(posts.length).toBeLessThanOrEqual(32);
    expect(posts.join('')).toBe(Array.from({ length: 1000 }, (_, i) => `${i} `).join(''));
  });
});

describe('protocol guards', () => {
  test.each([
    [{ type: 'ready' }, true],
    [{ type: 'send', prompt: 'hi', context: 'selection' }, true],
    [{ type: 'send', prompt: 'hi', context: 'everything' }, false],
    [{ type: 'send', prompt: 42, context: 'none' }, false],
    [{ type: 'openLink', href: 'https://x' }, true],
    [{ type: 'openLink' }, false],
    [{ type: 'runShell', command: 'rm -rf /' }, false],
    [{ type: '__proto__' }, false],
    [null, false],
    ['ready', false],
  ])('%j -> %s', (message, ok) => {
    expect(isWebviewToHost(message)).toBe(ok);
  });
});

describe('errors in the user language', () => {
  const site = { provider: 'ollama' as const, origin: 'http://127.0.0.1:11434' };
  test('built from the error fields, not its English message', () => {
    expect(errorText(new TimeoutError('firstToken', 120_000, { site }), t)).toBe(
      'Ollama at 127.0.0.1:11434 sent no first token within 2 min. If the model is loading or the prompt is long, raise flowgate.timeouts.firstTokenMs.',
    );
    expect(errorText(new AuthError(401, 'bad key', { site }), t)).toBe(
      'Ollama at 127.0.0.1:11434 answered 401: the API key for this endpoint is missing or wrong. Run "Flowgate: Set API Key". The server said: bad key',
    );
    expect(errorText(new HttpError(429, '', { site }), t)).toBe(
      'Ollama at 127.0.0.1:11434 is rate limiting requests (429).',
    );
    expect(errorText(new HttpError(429, 'quota spent', { site, retryAfterMs: 7_200_000 }), t)).toBe(
      'Ollama at 127.0.0.1:11434 is rate limiting requests (429). It asked to wait 2 h before trying again. The server said: quota spent',
    );
    expect(errorText(new RedirectError(301, 'https://elsewhere.example', { site }), t)).toBe(
      'Ollama at 127.0.0.1:11434 answered 301, a redirect to https://elsewhere.example. Flowgate does not follow redirects, so your key stays with this endpoint; if the API has moved, put its new address in the base URL.',
    );
  });
});

test('a request log line has timings and sizes, and no key or prompt fields', () => {
  expect(
    requestLogLine({
      endpointId: 'cloud',
      model: 'm',
      outcome: 'ok',
      ttftMs: 412.4,
      totalMs: 2301.9,
      inputTokens: 12,
      outputTokens: 80,
      retries: 1,
      requestId: 'req_1',
    }),
  ).toBe('endpoint=cloud model=m outcome=ok ttft=412ms total=2302ms in=12 out=80 retries=1 request-id=req_1');
});

describe('contributions and translations', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const nls = JSON.parse(readFileSync(join(root, 'package.nls.json'), 'utf8'));
  const nlsZh = JSON.parse(readFileSync(join(root, 'package.nls.zh-cn.json'), 'utf8'));
  const bundleZh = JSON.parse(readFileSync(join(root, 'l10n/bundle.l10n.zh-cn.json'), 'utf8'));

  test('command ids, view and settings match the design contract', () => {
    expect(pkg.contributes.commands.map((c: { command: string }) => c.command).sort()).toEqual(
      [
        'flowgate.openPanel',
        'flowgate.ask',
        'flowgate.stop',
        'flowgate.newChat',
        'flowgate.selectEndpoint',
        'flowgate.setApiKey',
        'flowgate.clearApiKey',
        'flowgate.showMetrics',
        'flowgate.showLog',
        'flowgate.batch.run',
        'flowgate.diagnose',
        'flowgate.exportMetrics',
        'flowgate.clearCache',
        'flowgate.manageEndpoints',
        'flowgate.setRedisPassword',
      ].sort(),
    );
    // The language model provider: vendor "flowgate", managed through Flowgate's endpoint setup.
    expect(pkg.contributes.languageModelChatProviders).toEqual([
      { vendor: 'flowgate', displayName: 'Flowgate', managementCommand: 'flowgate.manageEndpoints' },
    ]);
    expect(pkg.contributes.commands.every((c: { category: string }) => c.category === 'Flowgate')).toBe(true);
    expect(pkg.contributes.views.flowgate[0]).toMatchObject({ type: 'webview', id: 'flowgate.chat' });
    expect(pkg.contributes.viewsContainers.activitybar[0].id).toBe('flowgate');
    const settings = Object.assign(
      {},
      ...pkg.contributes.configuration.map((c: { properties: object }) => c.properties),
    );
    expect(Object.keys(settings).sort()).toEqual([
      'flowgate.activeEndpoint',
      'flowgate.batch.autoMinFiles',
      'flowgate.batch.concurrency',
      'flowgate.batch.deadlineHours',
      'flowgate.batch.mode',
      'flowgate.batch.outputFolder',
      'flowgate.batch.outputSuffix',
      'flowgate.batch.promptCache',
      'flowgate.batch.templates',
      'flowgate.budget.daily',
      'flowgate.budget.monthly',
      'flowgate.cache.mode',
      'flowgate.chat.showReasoning',
      'flowgate.endpoints',
      'flowgate.metrics.prometheusPort',
      'flowgate.prices',
      'flowgate.redaction.mode',
      'flowgate.redaction.patterns',
      'flowgate.retry.maxAttempts',
      'flowgate.sharedState.redisUrl',
      'flowgate.timeouts.connectMs',
      'flowgate.timeouts.firstTokenMs',
      'flowgate.timeouts.idleMs',
      'flowgate.timeouts.totalMs',
    ]);
    const endpointFields = pkg.contributes.configuration[0].properties['flowgate.endpoints'].items.properties;
    expect(Object.keys(endpointFields)).toEqual([
      'id',
      'provider',
      'baseUrl',
      'model',
      'rpm',
      'tpm',
      'concurrency',
      'fallbacks',
      'http2',
      'headers',
      'params',
      'reasoning',
      'maxInputTokens',
      'maxOutputTokens',
      'toolCalling',
      'imageInput',
    ]);
    for (const field of ['fallbacks', 'http2', 'headers', 'params', 'maxInputTokens', 'maxOutputTokens'])
      expect(endpointFields[field].markdownDescription).toBe(`%config.endpoint.${field}%`);
    expect(pkg.contributes.menus['explorer/context'][0].command).toBe('flowgate.batch.run');
    expect(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations).toEqual([
      'flowgate.endpoints',
      'flowgate.activeEndpoint',
    ]);
  });

  test('every %placeholder% in package.json exists in English and Chinese', () => {
    const keys = [...JSON.stringify(pkg).matchAll(/"%([\w.]+)%"/g)].map((m) => m[1]!);
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((k) => !(k in nls))).toEqual([]);
    expect(keys.filter((k) => !(k in nlsZh))).toEqual([]);
  });

  test('every l10n string in the host has a Chinese translation with the same placeholders', () => {
    const sources = readdirSync(join(root, 'src/host'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(root, 'src/host', f), 'utf8'));
    const strings = new Set(
      sources.flatMap((text) =>
        // Either quote, and the text may start on the next line (as the formatter wraps long calls).
        [...text.matchAll(/(?:l10n\.t|\bt)\(\s*(['"])((?:(?!\1)[^\\]|\\.)*)\1/g)].map((m) =>
          m[2]!.replace(/\\(['"])/g, '$1'),
        ),
      ),
    );
    expect(strings.size).toBeGreaterThan(50);
    const missing = [...strings].filter((s) => !(s in bundleZh));
    expect(missing).toEqual([]);
    const placeholders = (s: string) =>
      [...s.matchAll(/\{\d\}/g)]
        .map((m) => m[0])
        .sort()
        .join();
    expect([...strings].filter((s) => placeholders(s) !== placeholders(bundleZh[s]))).toEqual([]);
  });
});
