import { lookup } from 'node:dns/promises';
import { isIP, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { LlmClient } from './request/client';
import { endpointOrigin } from './endpoint';
import { formatDuration } from './duration';
import type { FlowgateError } from './errors';
import { describeProxy, resolveProxy, type ProxyOptions } from './http/proxy';
import type { Endpoint } from './types';

/** An endpoint to check; without a model, no request is timed. */
export type DoctorEndpoint = Omit<Endpoint, 'model'> & { model?: string };

export interface DoctorStep {
  name: string;
  ok: boolean;
  ms?: number;
  detail: string;
  /** What to do about it, when something is off. */
  hint?: string;
}

export interface DoctorReport {
  provider: Endpoint['provider'];
  origin: string;
  model?: string;
  ok: boolean;
  steps: DoctorStep[];
}

export interface DoctorOptions {
  proxy?: ProxyOptions;
  /** Connection and first-token limits for the checks. @default 10 s and 120 s */
  connectTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  /** A first token slower than this gets the "model is loading" hint. @default 10_000 */
  slowFirstTokenMs?: number;
}

const RATE_LIMIT_HEADER = /^(x-ratelimit-|anthropic-ratelimit-|retry-after)/;

/**
 * Checks an endpoint step by step, as a person debugging it would: the
 * proxy in use, DNS, TCP, TLS, then one tiny real request for time to
 * headers, time to first token, tokens per second and the rate-limit
 * headers. Each step has its time and, when something is off, a hint.
 * Without a model, the last step is skipped.
 */
export async function diagnose(endpoint: DoctorEndpoint, options: DoctorOptions = {}): Promise<DoctorReport> {
  const origin = endpointOrigin({ ...endpoint, model: endpoint.model || 'none' });
  const url = new URL(origin);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const steps: DoctorStep[] = [];
  const proxy = resolveProxy(options.proxy);
  steps.push(proxyStep(proxy, url));
  const address = await step(steps, 'dns', () => dnsStep(url.hostname));
  if (address && !proxy) {
    const connected = await step(steps, 'tcp', () => tcpStep(address, port, options.connectTimeoutMs ?? 10_000));
    if (connected && url.protocol === 'https:')
      await step(steps, 'tls', () => tlsStep(address, port, url.hostname, options.connectTimeoutMs ?? 10_000));
  }
  if (endpoint.model && steps.every((s) => s.ok))
    steps.push(...(await requestSteps({ ...endpoint, model: endpoint.model }, options)));
  else if (!endpoint.model)
    steps.push({ name: 'request', ok: true, detail: 'skipped: no model given (pass one to time a real request)' });
  return { provider: endpoint.provider, origin, model: endpoint.model, ok: steps.every((s) => s.ok), steps };
}

async function step<T>(
  steps: DoctorStep[],
  name: string,
  run: () => Promise<{ value: T; detail: string }>,
): Promise<T | undefined> {
  const started = performance.now();
  try {
    const { value, detail } = await run();
    steps.push({ name, ok: true, ms: since(started), detail });
    return value;
  } catch (error) {
    const { detail, hint } = explain(name, error as NodeJS.ErrnoException);
    steps.push({ name, ok: false, ms: since(started), detail, hint });
    return undefined;
  }
}

const since = (started: number): number => Math.round((performance.now() - started) * 10) / 10;

function proxyStep(proxy: ReturnType<typeof resolveProxy>, url: URL): DoctorStep {
  if (!proxy) return { name: 'proxy', ok: true, detail: 'none: connecting directly' };
  const through = url.protocol === 'https:' ? proxy.httpsProxy : proxy.httpProxy;
  const bypass = proxy.noProxy
    ?.split(',')
    .some((h) => h && (url.hostname === h || url.hostname.endsWith(`.${h.replace(/^\./, '')}`)));
  return {
    name: 'proxy',
    ok: true,
    detail:
      !through || bypass
        ? 'configured, but this host goes direct'
        : `through ${describeProxy(through)} (TCP and TLS are checked by the request)`,
  };
}

async function dnsStep(hostname: string): Promise<{ value: string; detail: string }> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return { value: host, detail: `${host} is an address; no lookup needed` };
  const addresses = await lookup(host, { all: true });
  return { value: addresses[0]!.address, detail: `${host} -> ${addresses.map((a) => a.address).join(', ')}` };
}

// The TCP and TLS timeouts are shaped like the system's own ETIMEDOUT, not FlowgateErrors, so
// that explain() words both alike; step() turns them into a report line, never a thrown error.
function tcpStep(address: string, port: number, timeoutMs: number): Promise<{ value: true; detail: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: address, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ value: true, detail: `connected to ${address}:${port}` });
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${formatDuration(timeoutMs)}`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', reject);
  });
}

function tlsStep(
  address: string,
  port: number,
  servername: string,
  timeoutMs: number,
): Promise<{ value: true; detail: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: address, port, servername, timeout: timeoutMs });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const detail = `${socket.getProtocol() ?? 'TLS'}, certificate for ${String(cert.subject?.CN ?? servername)} from ${String(cert.issuer?.O ?? cert.issuer?.CN ?? 'unknown issuer')}, valid until ${cert.valid_to}`;
      socket.destroy();
      resolve({ value: true, detail });
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no TLS handshake within ${formatDuration(timeoutMs)}`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', reject);
  });
}

async function requestSteps(endpoint: Endpoint, options: DoctorOptions): Promise<DoctorStep[]> {
  const client = new LlmClient({
    proxy: options.proxy,
    retry: { maxAttempts: 1 },
    timeouts: {
      connectMs: options.connectTimeoutMs ?? 10_000,
      firstTokenMs: options.firstTokenTimeoutMs ?? 120_000,
      idleMs: 30_000,
      totalMs: 180_000,
    },
  });
  const started = performance.now();
  let headersAt: number | undefined;
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  let outputTokens: number | undefined;
  let limits: string[] = [];
  try {
    for await (const event of client.stream(
      { messages: [{ role: 'user', content: 'Reply with the word OK.' }], maxTokens: 16 },
      { endpoint },
    )) {
      if (event.type === 'response') {
        headersAt = performance.now();
        limits = Object.entries(event.headers)
          .filter(([name]) => RATE_LIMIT_HEADER.test(name))
          .map(([name, value]) => `${name}: ${value}`);
      } else if (event.type === 'text') {
        firstAt ??= performance.now();
        lastAt = performance.now();
      } else if (event.type === 'usage') {
        outputTokens = event.outputTokens ?? outputTokens;
      }
    }
    return timingSteps(started, headersAt, firstAt, lastAt, outputTokens, limits, options.slowFirstTokenMs ?? 10_000);
  } catch (error) {
    const failure = error as FlowgateError;
    return [{ name: 'request', ok: false, ms: since(started), detail: failure.message, hint: requestHint(failure) }];
  } finally {
    await client.close();
  }
}

function timingSteps(
  started: number,
  headersAt: number | undefined,
  firstAt: number | undefined,
  lastAt: number | undefined,
  outputTokens: number | undefined,
  limits: string[],
  slowMs: number,
): DoctorStep[] {
  const headersMs = headersAt === undefined ? undefined : Math.round(headersAt - started);
  const firstMs = firstAt === undefined ? undefined : Math.round(firstAt - started);
  const steps: DoctorStep[] = [{ name: 'headers', ok: true, ms: headersMs, detail: 'response headers arrived' }];
  steps.push(
    firstMs === undefined
      ? {
          name: 'first token',
          ok: false,
          detail: 'the answer had no text',
          hint: 'check the model name; some models need a larger max_tokens',
        }
      : {
          name: 'first token',
          ok: true,
          ms: firstMs,
          detail: `first token after ${formatDuration(firstMs)}`,
          hint:
            firstMs > slowMs
              ? `first token took ${formatDuration(firstMs)}: the model may be loading; raise the first-token timeout`
              : undefined,
        },
  );
  const generationMs = firstAt !== undefined && lastAt !== undefined ? lastAt - firstAt : 0;
  const rate =
    outputTokens && generationMs > 0
      ? `${Math.round((outputTokens / generationMs) * 10_000) / 10} tokens/s`
      : 'too short an answer to time';
  steps.push({
    name: 'tokens per second',
    ok: true,
    detail: outputTokens === undefined ? 'the server reported no usage' : `${outputTokens} tokens, ${rate}`,
  });
  steps.push({
    name: 'rate limits',
    ok: true,
    detail: limits.length ? limits.join('; ') : 'no rate-limit headers sent',
  });
  return steps;
}

function requestHint(error: FlowgateError): string | undefined {
  if (error.status === 401 || error.status === 403)
    return `${error.status}: the key for this endpoint is missing or wrong`;
  if (error.status === 404) return '404: check the base URL (OpenAI-compatible ones end in /v1) and the model name';
  if (error.status === 429)
    return '429: rate limited or out of quota right now; see the retry-after and rate-limit headers';
  if (error.code === 'FLOWGATE_TIMEOUT') return 'raise the matching timeout, or check that the server is not stuck';
  return undefined;
}

function explain(step: string, error: NodeJS.ErrnoException): { detail: string; hint?: string } {
  const detail = `${error.code ? `${error.code}: ` : ''}${error.message}`;
  const hints: Record<string, string> = {
    ENOTFOUND: 'the host name does not resolve; check the base URL',
    EAI_AGAIN: 'DNS is not answering right now; check the network',
    ECONNREFUSED: 'nothing is listening on that port; is the server running?',
    ETIMEDOUT:
      step === 'tls'
        ? 'the TLS handshake stalls; is this an https port?'
        : 'the host does not answer; a firewall, a VPN or a wrong address',
    EHOSTUNREACH: 'the host is unreachable from here; check the network or VPN',
    ECONNRESET:
      step === 'tls'
        ? 'the server closed the connection during TLS; is this an http:// port?'
        : 'the connection was reset',
    CERT_HAS_EXPIRED: 'the server certificate has expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'a self-signed certificate: add its CA with NODE_EXTRA_CA_CERTS',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      'the certificate chain is incomplete or its CA is unknown: NODE_EXTRA_CA_CERTS can add it',
    ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name',
  };
  return { detail, hint: (error.code && hints[error.code]) || undefined };
}

/** The report as text a person can read and paste into an issue. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `Flowgate connection check: ${report.provider} at ${report.origin}${report.model ? `, model ${report.model}` : ''}`,
    '',
  ];
  for (const s of report.steps) {
    const time = s.ms === undefined ? '' : ` (${formatDuration(Math.round(s.ms))})`;
    lines.push(`${s.ok ? 'ok  ' : 'FAIL'} ${s.name}${time}: ${s.detail}`);
    if (s.hint) lines.push(`     hint: ${s.hint}`);
  }
  lines.push('', report.ok ? 'Everything checked is fine.' : 'Something is off: see the hints above.');
  return lines.join('\n');
}
