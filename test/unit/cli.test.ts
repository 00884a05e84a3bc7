import { describe, expect, test } from 'vitest';
import { runCli as cli } from './cli-process';
import { FORMATS, useServer, waitFor } from './helpers';
const { server } = useServer();

const chatArgs = (provider: string, ...rest: string[]) => [
  'chat',
  '--provider',
  provider,
  '--base-url',
  server().baseUrl(provider as never),
  '--model',
  'test-model',
  ...rest,
];

describe.each(FORMATS)('%s', (provider) => {
  test('stdout carries the answer and nothing else', async () => {
    server().respond({ tokens: ['Streamed ', 'answer ', '🙂'] });
    const run = await cli(chatArgs(provider, 'Say hi'));
    expect(run).toEqual({ code: 0, stdout: 'Streamed answer 🙂', stderr: '' });
    const conversation = server().requests[0]?.body;
    expect(provider === 'openai-responses' ? conversation?.input : conversation?.messages).toEqual([
      { role: 'user', content: 'Say hi' },
    ]);
  });

  test('--stats prints one JSON line of timings and usage to stderr', async () => {
    server().respond({ tokens: ['a', 'b'], usage: { input: 9, output: 2 } });
    const run = await cli(chatArgs(provider, '--stats', 'q'));
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('ab');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const stats = JSON.parse(lines[0]!);
    expect(stats).toMatchObject({
      provider,
      model: 'test-model',
      ok: true,
      inputTokens: 9,
      outputTokens: 2,
      finishReason: 'stop',
      requestId: 'req_test_1',
    });
    expect(stats.ttftMs).toBeGreaterThanOrEqual(0);
    expect(stats.totalMs).toBeGreaterThanOrEqual(stats.ttftMs);
  });
});

test('the key comes from the named environment variable and never reaches stderr', async () => {
  const key = 'sk-cli-secret-987654321';
  server().respond({ status: 401, error: { message: `bad key ${key}` } });
  const run = await cli(chatArgs('openai', '--api-key-env', 'MY_KEY', '--stats', 'q'), { env: { MY_KEY: key } });
  expect(run.code).toBe(1);
  expect(server().requests[0]?.headers.authorization).toBe(`Bearer ${key}`);
  expect(run.stderr).not.toContain(key);
  expect(run.stderr).toContain('the key for this endpoint is missing or wrong');
});

test('OPENAI_API_KEY is the default for openai, ANTHROPIC_API_KEY for anthropic', async () => {
  await cli(chatArgs('openai', 'q'), { env: { OPENAI_API_KEY: 'sk-o' } });
  await cli(chatArgs('anthropic', 'q'), { env: { ANTHROPIC_API_KEY: 'sk-a' } });
  expect(server().requests[0]?.headers.authorization).toBe('Bearer sk-o');
  expect(server().requests[1]?.headers['x-api-key']).toBe('sk-a');
});

test('the prompt can come from stdin', async () => {
  const run = await cli(chatArgs('ollama'), { input: 'from stdin\n' });
  expect(run.code).toBe(0);
  expect(server().requests[0]?.body.messages).toEqual([{ role: 'user', content: 'from stdin\n' }]);
});

test('--system and --max-tokens reach the request', async () => {
  await cli(chatArgs('anthropic', '--system', 'terse', '--max-tokens', '12', 'q'));
  expect(server().requests[0]?.body).toMatchObject({ system: 'terse', max_tokens: 12 });
});

describe('usage errors exit 2 with a message that says what is wrong', () => {
  test.each([
    [['chat', '--provider', 'openai', '--base-url', 'http://127.0.0.1:1/v1', 'q'], /--model is required/],
    [
      ['chat', '--provider', 'bard', '--base-url', 'http://x', '--model', 'm', 'q'],
      /--provider must be openai, openai-responses, anthropic or ollama; got "bard"/,
    ],
    [
      ['chat', '--provider', 'ollama', '--base-url', 'http://x', '--model', 'm', '--idle-timeout', 'soon', 'q'],
      /--idle-timeout must be a whole number/,
    ],
    [
      ['chat', '--provider', 'ollama', '--base-url', 'http://x', '--model', 'm', '--bogus', 'q'],
      /Unknown option '--bogus'/,
    ],
    [['chat', '--provider', 'ollama', '--base-url', 'nope', '--model', 'm', 'q'], /is not a URL/],
    [
      ['chat', '--provider', 'openai', '--base-url', 'http://x', '--model', 'm', '--api-key-env', 'UNSET_VAR', 'q'],
      /UNSET_VAR, but that environment variable is not set/,
    ],
    [['frobnicate'], /Unknown command "frobnicate"/],
    [[], /No command given/],
  ])('%j', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  test('--help prints usage to stdout and exits 0', async () => {
    const run = await cli(['chat', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: flowgate chat');
  });
});

test('a failed request exits 1 with the error on stderr', async () => {
  server().respond({ status: 500, error: { message: 'boom' } });
  const run = await cli(chatArgs('openai', '--max-retries', '0', 'q'));
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(
    /^flowgate: OpenAI-compatible API at 127\.0\.0\.1:\d+ answered 500: the server failed; try again\. The server said: boom/,
  );
});

test('retry notices go to stderr, the answer alone to stdout', async () => {
  server().enqueue(
    { status: 429, headers: { 'retry-after-ms': '50' } },
    { status: 503, headers: { 'retry-after-ms': '20' } },
    { tokens: ['fine'] },
  );
  const run = await cli(chatArgs('openai', '--stats', 'q'));
  expect(run.code).toBe(0);
  expect(run.stdout).toBe('fine');
  const lines = run.stderr.trim().split('\n');
  expect(lines.slice(0, 2)).toEqual([
    'flowgate: rate limited, retrying in 50 ms (attempt 2 of 4)',
    'flowgate: server error 503 (server_error), retrying in 20 ms (attempt 3 of 4)',
  ]);
  expect(JSON.parse(lines[2]!)).toMatchObject({ ok: true, retries: 2 });
});

test('--max-retries bounds the attempts', async () => {
  server().respond({ status: 503, headers: { 'retry-after-ms': '10' } });
  const run = await cli(chatArgs('openai', '--max-retries', '1', 'q'));
  expect(run.code).toBe(1);
  expect(server().requests).toHaveLength(2);
});

test('--rpm paces requests and is checked as a usage argument', async () => {
  expect((await cli(chatArgs('openai', '--rpm', 'fast', 'q'))).stderr).toMatch(
    /--rpm must be a whole number of at least 1/,
  );
  const run = await cli(chatArgs('openai', '--rpm', '60', '--tpm', '100000', '--concurrency', '2', 'q'));
  expect(run.code).toBe(0);
});

describe('bench', () => {
  test('sends N requests C at a time and prints one JSON summary on stdout', async () => {
    server().respond({ tokens: ['a', 'b', 'c'], usage: { input: 4, output: 3 } });
    const run = await cli([
      'bench',
      '--provider',
      'openai',
      '--base-url',
      server().baseUrl('openai'),
      '--model',
      'm',
      '--requests',
      '40',
      '--concurrency',
      '8',
      '--stream',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      requests: 40,
      concurrency: 8,
      stream: true,
      ok: 40,
      failed: 0,
      failures: {},
      rateLimited: 0,
      retries: 0,
      outputTokens: 120,
    });
    expect(summary.requestsPerSecond).toBeGreaterThan(0);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.ttftMs.p99).toBeGreaterThan(0);
    expect(server().requests).toHaveLength(40);
  });

  test('counts 429s and retries against a rate-limited server, and exits 1 when some fail', async () => {
    server().limit({ rpm: 600, burst: 2 });
    const run = await cli([
      'bench',
      '--provider',
      'ollama',
      '--base-url',
      server().origin,
      '--model',
      'm',
      '--requests',
      '6',
      '--concurrency',
      '6',
      '--max-retries',
      '0',
    ]);
    const summary = JSON.parse(run.stdout);
    expect(run.code).toBe(1);
    expect(summary.ok).toBe(2);
    expect(summary.failures).toEqual({ FLOWGATE_HTTP: 4 });
    expect(summary.rateLimited).toBe(4);
  });

  test('usage errors exit 2', async () => {
    const run = await cli([
      'bench',
      '--provider',
      'openai',
      '--base-url',
      'http://127.0.0.1:1/v1',
      '--model',
      'm',
      '--concurrency',
      '2',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--requests is required/);
  });
});

test('a timeout of any layer exits 3', async () => {
  server().respond({ tokens: ['a', 'b'], stallAfter: 1 });
  const run = await cli(chatArgs('ollama', '--idle-timeout', '200', 'q'));
  expect(run.code).toBe(3);
  expect(run.stdout).toBe('a');
  expect(run.stderr).toMatch(/stopped sending tokens for 200 ms/);
});

test('SIGINT aborts the request, closes its socket and exits 130', async () => {
  server().respond({ tokens: ['first', 'never'], stallAfter: 1 });
  const disconnected = server().waitForDisconnect();
  const run = await cli(chatArgs('openai', 'q'), {
    onStdout: (text, child) => text === 'first' && child.kill('SIGINT'),
  });
  expect(run.code).toBe(130);
  expect(run.stdout).toBe('first');
  await disconnected;
  expect(server().disconnects).toBe(1);
});

test('a reader that closes stdout early (| head) ends the run quietly and stops the request', async () => {
  server().respond({ tokens: Array.from({ length: 400 }, (_, i) => `word${i} `), tokenDelayMs: 5 });
  let closed = false;
  const run = await cli(chatArgs('openai', 'q'), {
    onStdout: (text, child) => {
      if (closed || text.length < 20) return;
      closed = true;
      child.stdout?.destroy();
    },
  });
  expect(closed).toBe(true);
  expect(run.code).toBe(0);
  expect(run.stderr).toBe('');
  await waitFor(() => server().disconnects === 1, 'the server to see the request stop', 5000);
});

test('a 429 asking to wait past the total timeout says how long the server asked for', async () => {
  server().respond({ status: 429, headers: { 'retry-after': '7200' } });
  const run = await cli(chatArgs('openai', '--total-timeout', '60000', 'q'));
  expect(run.code).toBe(1);
  expect(server().requests).toHaveLength(1);
  expect(run.stderr).toContain('It asked to wait 2 h before trying again.');
  expect(run.stderr).toContain('Flowgate did not wait 2 h: that is past this request');
  expect(run.stderr).not.toContain('    at ');
});

describe.each(FORMATS)('%s: answers that are not only text', (provider) => {
  const weather = { id: 'call_1', name: 'weather', arguments: '{"city":"Oslo"}' };

  test('--json writes every event as one JSON line, and nothing else, to stdout', async () => {
    server().respond({ reasoning: ['hm'], tokens: ['Hi'], usage: { input: 3, output: 2 } });
    const run = await cli(chatArgs(provider, '--json', 'Say hi'));
    expect(run.code).toBe(0);
    const events = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; text?: string });
    expect(events[0]).toMatchObject({ type: 'response', status: 200 });
    // Anthropic's signature arrives as a reasoning event of its own, without text.
    expect(events.filter((e) => e.type === 'reasoning' && e.text)).toEqual([{ type: 'reasoning', text: 'hm' }]);
    expect(events.filter((e) => e.type === 'text')).toEqual([{ type: 'text', text: 'Hi' }]);
    expect(events.find((e) => e.type === 'finish')).toMatchObject({ reason: 'stop' });
    // Anthropic reports input tokens at the start and output tokens at the end: together they are the usage.
    expect(Object.assign({}, ...events.filter((e) => e.type === 'usage'))).toMatchObject({
      inputTokens: 3,
      outputTokens: 2,
    });
    expect(run.stderr).toBe('');
  });

  test('reasoning is dropped by default and streams to stderr with --reasoning show', async () => {
    server().enqueue(
      { reasoning: ['Let me ', 'think.'], tokens: ['42'] },
      { reasoning: ['Let me ', 'think.'], tokens: ['42'] },
    );
    expect(await cli(chatArgs(provider, 'Q'))).toEqual({ code: 0, stdout: '42', stderr: '' });
    expect(await cli(chatArgs(provider, '--reasoning', 'show', 'Q'))).toEqual({
      code: 0,
      stdout: '42',
      stderr: 'Let me think.\n',
    });
  });

  test('tool calls only: nothing on stdout, the calls on stderr, exit code 4', async () => {
    server().respond({ tokens: [], toolCalls: [weather] });
    const run = await cli(chatArgs(provider, 'Weather in Oslo?'));
    expect(run.code).toBe(4);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /the model asks to call weather\(\{"city": ?"Oslo"\}\); flowgate chat does not run tools\./,
    );
    expect(run.stderr).toContain('the model answered with 1 tool call(s) for the caller to run, not text.');
  });

  test('an answer cut by the token limit says so, and still exits 0', async () => {
    server().respond({ tokens: ['Once upon'], finish: 'length' });
    const run = await cli(chatArgs(provider, 'Tell a story'));
    expect(run).toEqual({
      code: 0,
      stdout: 'Once upon',
      stderr: 'flowgate: the answer was cut off by the token limit (--max-tokens).\n',
    });
  });
});

test('--reasoning takes only show or hide', async () => {
  const run = await cli(chatArgs('openai', '--reasoning', 'loud', 'Q'));
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('--reasoning takes show or hide, not "loud".');
});

test('a refusal is said on stderr and exits 4', async () => {
  const refusal = [
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', refusal: "I can't " } }] })}\n\n`,
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { refusal: 'help with that.' } }] })}\n\n`,
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    'data: [DONE]\n\n',
  ].join('');
  server().respond({ rawStream: refusal, headers: { 'content-type': 'text/event-stream' } });
  const run = await cli(chatArgs('openai', 'Q'));
  expect(run.code).toBe(4);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain("flowgate: the model refused: I can't help with that.\n");
  expect(run.stderr).toContain('flowgate: the model refused to answer (see above).');
});
