import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { diagnose, formatDoctorReport } from '../../src/core';
import { TestLlmServer } from '../server/llm-server';
import { runCli } from './cli-process';
import { useServer } from './helpers';

const { server } = useServer();
const names = (report: { steps: { name: string; ok: boolean }[] }) =>
  report.steps.map((s) => `${s.ok ? 'ok' : 'FAIL'} ${s.name}`);

test('a healthy endpoint: every step ok, with timings, tokens per second and the rate-limit headers', async () => {
  server().respond({
    tokens: ['O', 'K'],
    tokenDelayMs: 20,
    usage: { input: 5, output: 2 },
    headers: { 'x-ratelimit-limit-requests': '500', 'x-ratelimit-remaining-requests': '499' },
  });
  const report = await diagnose({
    provider: 'openai',
    baseUrl: `${server().origin}/v1`,
    model: 'gpt-test',
    apiKey: 'sk-doctor-key-123456',
  });
  expect(names(report)).toEqual([
    'ok proxy',
    'ok dns',
    'ok tcp',
    'ok headers',
    'ok first token',
    'ok tokens per second',
    'ok rate limits',
  ]);
  expect(report.ok).toBe(true);
  expect(report.steps.find((s) => s.name === 'rate limits')?.detail).toBe(
    'x-ratelimit-limit-requests: 500; x-ratelimit-remaining-requests: 499',
  );
  expect(report.steps.find((s) => s.name === 'tokens per second')?.detail).toMatch(/^2 tokens, [\d.]+ tokens\/s$/);
  const text = formatDoctorReport(report);
  expect(text).toContain('Everything checked is fine.');
  expect(text).not.toContain('sk-doctor-key-123456');
});

test('401: the hint says the key is missing or wrong', async () => {
  server().respond({ status: 401, error: { message: 'no key' } });
  const report = await diagnose({ provider: 'anthropic', baseUrl: server().origin, model: 'claude-test' });
  expect(report.ok).toBe(false);
  expect(report.steps.at(-1)).toMatchObject({
    name: 'request',
    ok: false,
    hint: '401: the key for this endpoint is missing or wrong',
  });
});

test('a slow first token: the hint says the model may be loading', async () => {
  server().respond({ tokens: ['x'], firstTokenDelayMs: 400 });
  const report = await diagnose(
    { provider: 'ollama', baseUrl: server().origin, model: 'llama' },
    { slowFirstTokenMs: 200 },
  );
  expect(report.steps.find((s) => s.name === 'first token')?.hint).toMatch(
    /^first token took \d+ ms: the model may be loading; raise the first-token timeout$/,
  );
});

test('nothing listening: TCP fails with a hint, and no request is tried', async () => {
  const gone = await TestLlmServer.start();
  const origin = gone.origin;
  await gone.close();
  const report = await diagnose({ provider: 'ollama', baseUrl: origin, model: 'm' });
  expect(names(report)).toEqual(['ok proxy', 'ok dns', 'FAIL tcp']);
  expect(report.steps[2]?.hint).toBe('nothing is listening on that port; is the server running?');
});

test('DNS is looked up for host names; without a model, no request is made', async () => {
  const report = await diagnose({ provider: 'ollama', baseUrl: server().origin.replace('127.0.0.1', 'localhost') });
  expect(report.steps.find((s) => s.name === 'dns')?.detail).toMatch(/^localhost -> /);
  expect(report.steps.at(-1)).toMatchObject({
    name: 'request',
    ok: true,
    detail: expect.stringMatching(/skipped: no model/),
  });
  expect(server().requests).toHaveLength(0);
});

test('a self-signed TLS certificate: the TLS step fails and points at NODE_EXTRA_CA_CERTS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    const https = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (_req, res) => res.end(),
    );
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = https.address() as AddressInfo;
      const report = await diagnose({ provider: 'openai', baseUrl: `https://localhost:${port}/v1`, model: 'm' });
      expect(names(report)).toEqual(['ok proxy', 'ok dns', 'ok tcp', 'FAIL tls']);
      expect(report.steps[3]?.hint).toBe('a self-signed certificate: add its CA with NODE_EXTRA_CA_CERTS');
    } finally {
      https.closeAllConnections();
      https.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flowgate doctor prints the report to stdout and exits 0 when fine, 1 when not', async () => {
  const run = async (args: string[]) => {
    const { code, stdout } = await runCli(['doctor', ...args]);
    return { status: code, stdout };
  };
  const fine = await run(['--provider', 'ollama', '--base-url', server().origin, '--model', 'm']);
  expect(fine.status).toBe(0);
  expect(fine.stdout).toMatch(/^Flowgate connection check: ollama at http:\/\/127\.0\.0\.1:\d+, model m\n/);
  const bad = await run(['--provider', 'ollama', '--base-url', 'http://127.0.0.1:1']);
  expect(bad.status).toBe(1);
  expect(bad.stdout).toContain('hint: nothing is listening on that port');
});
