/**
 * A hostile server echoes the API key back in every place a provider can put
 * text: error bodies, streamed error events and lines, 200 responses that
 * carry an error, malformed frames, headers, redirects, HTML pages and the
 * answer itself. Nothing the engine reports may carry the key.
 */
import { describe, expect, test } from 'vitest';
import { ConfigError, collect, diagnose, formatDoctorReport, type FlowgateError } from '../../src/core';
import { ECHO_KEY, type Script } from '../server/llm-server';
import { runCli } from './cli-process';
import { FORMATS, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer();
const KEY = 'sk-leak-test-4f9a2b7c1d3e5f60';

/** Everything an error exposes: message, own fields (headers, provider message, request id), its cause, the partial text. */
function exposed(error: FlowgateError): string {
  const cause = error.cause as { message?: unknown } | undefined;
  return [
    error.message,
    JSON.stringify({ ...error }),
    typeof cause?.message === 'string' ? cause.message : '',
    error.partialText ?? '',
  ].join('\n');
}

const sseError: Record<string, string> = {
  openai: `data: {"error":{"message":"key ${ECHO_KEY} is not valid","type":"invalid_request_error"}}\n\n`,
  anthropic: `event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"key ${ECHO_KEY} is not valid"}}\n\n`,
  'openai-responses': `event: error\ndata: {"type":"error","code":"invalid_api_key","message":"key ${ECHO_KEY} is not valid"}\n\n`,
  ollama: `{"error":"key ${ECHO_KEY} is not valid"}\n`,
};

const whole200Error: Record<string, string> = {
  openai: `{"error":{"message":"key ${ECHO_KEY} is not valid","type":"invalid_request_error"}}`,
  anthropic: `{"type":"error","error":{"type":"authentication_error","message":"key ${ECHO_KEY} is not valid"}}`,
  'openai-responses': `{"error":{"message":"key ${ECHO_KEY} is not valid","type":"invalid_request_error"}}`,
  ollama: `{"error":"key ${ECHO_KEY} is not valid"}`,
};

const malformedFrame: Record<string, string> = {
  openai: `data: {"choices": [{"delta": {"content": "${ECHO_KEY}\n\n`,
  anthropic: `event: content_block_delta\ndata: {"delta": "${ECHO_KEY}\n\n`,
  'openai-responses': `event: response.output_text.delta\ndata: {"delta": "${ECHO_KEY}\n\n`,
  ollama: `{"message": {"content": "${ECHO_KEY}"\n`,
};

const streamType: Record<string, string> = {
  openai: 'text/event-stream',
  anthropic: 'text/event-stream',
  'openai-responses': 'text/event-stream',
  ollama: 'application/x-ndjson',
};

function hostileScripts(provider: string): [string, Script][] {
  const stream = { 'content-type': streamType[provider]! };
  return [
    ['a 400 error body', { status: 400, error: { message: `Incorrect API key provided: ${ECHO_KEY}` } }],
    ['a 401 error body', { status: 401, error: { message: `Incorrect API key provided: ${ECHO_KEY}` } }],
    ['a 500 plain-text body', { status: 500, rawBody: `upstream rejected ${ECHO_KEY}\n` }],
    [
      'a streamed error event after text',
      { tokens: ['partial ', 'text'], errorEventAfter: 1, errorEventMessage: `bad key ${ECHO_KEY}` },
    ],
    ['an error event or line as the whole stream', { rawStream: sseError[provider]!, headers: stream }],
    ['a 200 JSON body carrying an error object', { rawBody: whole200Error[provider]! }],
    ['an unparseable frame', { rawStream: malformedFrame[provider]!, headers: stream }],
    ['a 200 JSON body without a completion', { rawBody: `{"status":"ok","echo":"${ECHO_KEY}"}` }],
    ['a request id header the message quotes', { status: 500, headers: { 'x-request-id': `req-${ECHO_KEY}` } }],
    [
      'a Retry-After alongside an echoed header',
      { status: 429, headers: { 'retry-after': '1', 'x-request-id': ECHO_KEY } },
    ],
    [
      'a redirect whose target carries the key',
      { status: 307, rawBody: '', headers: { location: `https://${ECHO_KEY}@elsewhere.example/v1?key=${ECHO_KEY}` } },
    ],
    [
      'an HTML page whose title carries the key',
      {
        rawBody: `<!doctype html><html><head><title>Welcome ${ECHO_KEY}</title></head></html>`,
        headers: { 'content-type': 'text/html' },
      },
    ],
    ['a truncated stream after echoing the key', { tokens: [`key: ${ECHO_KEY}`, ' more'], truncateAfter: 1 }],
    [
      'an error event or line carrying the key, split across network chunks',
      { rawStream: sseError[provider]!, headers: stream, splitBytes: 7 },
    ],
  ];
}

describe.each(FORMATS)('%s echoes the key back', (provider) => {
  test.each(hostileScripts(provider))('%s: the error never carries it', async (_name, script) => {
    server().respond(script);
    const error = (await rejection(
      collect(client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) })),
    )) as FlowgateError;
    expect(server().requests.length).toBeGreaterThan(0);
    expect(exposed(error)).not.toContain(KEY);
    expect(exposed(error)).not.toContain(KEY.slice(0, 16));
  });

  test('an answer that quotes the key shows it redacted', async () => {
    server().respond({ tokens: ['Your key is ', ECHO_KEY, '.'] });
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) }));
    expect(completion.text).toBe('Your key is [redacted].');
  });

  test('a key in one delta that arrives split across network chunks shows it redacted', async () => {
    server().respond({ tokens: ['Your key is ', ECHO_KEY, '.'], splitBytes: 5 });
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) }));
    expect(completion.text).toBe('Your key is [redacted].');
  });

  test('an answer that spells the key out one piece per delta shows it redacted, and the rest of the text intact', async () => {
    const pieces = ['sk-', 'leak-', 'test-4f9a', '2b7c1d3e', '5f60'];
    expect(pieces.join('')).toBe(KEY);
    server().respond({ tokens: ['The key ', 's', 'eems to be ', ...pieces, ', so', ' sk', 'ip it.'] });
    const seen: string[] = [];
    const completion = await collect(
      client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) }),
      (text) => seen.push(text),
    );
    expect(completion.text).toBe('The key seems to be [redacted], so skip it.');
    expect(seen.join('')).toBe(completion.text);
    for (const piece of seen) expect(piece).not.toContain('sk-leak');
  });

  test('a stream cut off in the middle of an echoed key keeps its partial text but not the piece of the key', async () => {
    server().respond({ tokens: ['Here: ', 'sk-leak-', 'test-4f9a', 'never'], truncateAfter: 3 });
    const error = (await rejection(
      collect(client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) })),
    )) as FlowgateError;
    expect(error.partialText).toBe('Here: ');
  });

  test('a response header echoing the key is scrubbed before anyone reads it', async () => {
    server().respond({ headers: { 'x-request-id': ECHO_KEY, 'x-echo': `Bearer ${ECHO_KEY}` } });
    const seen = [];
    for await (const event of client().stream(ask(), { endpoint: endpoint(provider, { apiKey: KEY }) }))
      seen.push(event);
    expect(JSON.stringify(seen)).not.toContain(KEY);
    expect(seen[0]).toMatchObject({
      type: 'response',
      requestId: '[redacted]',
      headers: { 'x-echo': 'Bearer [redacted]' },
    });
  });
});

test("a gateway's credential header echoed back is scrubbed like the key; a plain header value is not", async () => {
  const gateway = 'gw-secret-7a8b9c0d1e2f';
  server().respond({ status: 403, error: { message: `gateway key ${gateway} has no access for team-a` } });
  const error = (await rejection(
    collect(
      client().stream(ask(), {
        endpoint: endpoint('openai', { headers: { 'x-gateway-key': gateway, 'x-route': 'team-a' } }),
      }),
    ),
  )) as FlowgateError;
  expect(server().requests[0]?.headers['x-gateway-key']).toBe(gateway);
  expect(exposed(error)).not.toContain(gateway);
  expect(error.message).toContain('gateway key [redacted] has no access for team-a');
});

describe('keys the user supplied', () => {
  test('a base URL with credentials that fails to parse is quoted without them', async () => {
    const error = await rejection(
      collect(
        client().stream(ask(), {
          endpoint: { provider: 'openai', baseUrl: `http://user:${KEY}@127.0.0.1:99999/v1`, model: 'm', apiKey: KEY },
        }),
      ),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('is not a URL');
    expect(error.message).not.toContain(KEY);
    expect(error.message).toContain('//[redacted]@127.0.0.1:99999');
  });

  test('a base URL that parses but carries credentials is refused without quoting them', async () => {
    const error = await rejection(
      collect(
        client().stream(ask(), {
          endpoint: { provider: 'openai', baseUrl: `http://user:${KEY}@127.0.0.1:1/v1`, model: 'm' },
        }),
      ),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).not.toContain(KEY);
  });
});

describe('the CLI', () => {
  const run = (args: string[], env: Record<string, string>) => runCli(args, { env });

  test.each(FORMATS)('%s: no hostile answer puts the key on stdout or stderr, --stats included', async (provider) => {
    for (const [name, script] of hostileScripts(provider)) {
      server().reset();
      server().respond(script);
      const env = { FLOWGATE_TEST_KEY: KEY };
      const result = await run(
        [
          'chat',
          '--provider',
          provider,
          '--base-url',
          server().baseUrl(provider),
          '--model',
          'm',
          '--api-key-env',
          'FLOWGATE_TEST_KEY',
          '--max-retries',
          '0',
          '--stats',
          'q',
        ],
        env,
      );
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain('flowgate: ');
      expect(`${result.stdout}\n${result.stderr}`, name).not.toContain(KEY);
    }
  });
});

test("the doctor's report never carries an echoed key", async () => {
  server().respond({
    status: 401,
    error: { message: `Incorrect API key provided: ${ECHO_KEY}` },
    headers: { 'x-request-id': ECHO_KEY },
  });
  const report = await diagnose({ provider: 'openai', baseUrl: server().baseUrl('openai'), model: 'm', apiKey: KEY });
  expect(report.ok).toBe(false);
  expect(server().requests.length).toBeGreaterThan(0);
  expect(formatDoctorReport(report)).not.toContain(KEY);
  expect(JSON.stringify(report)).not.toContain(KEY);
});
