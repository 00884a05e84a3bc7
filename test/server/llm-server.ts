import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Server } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, createBrotliCompress, createDeflate, createGzip, deflateSync, gzipSync } from 'node:zlib';
import { BatchApi, type ItemAnswer } from './batch-api';
import { PromptCacheModel } from './prompt-cache';
import {
  FINISH_WORD,
  errorBody,
  wholeBody,
  wireParts,
  type ToolCallScript,
  type Usage,
  type WireFormat,
  type WireParts,
} from './wire';

/**
 * What the server does with one request. Every field is optional; the
 * default answers "Hello, world!" in three tokens at once.
 */
export interface Script {
  tokens?: string[];
  status?: number;
  headers?: Record<string, string>;
  /** Error statuses: the message and type in the provider's error body. */
  error?: { message: string; type?: string };
  /** A raw body sent as is (malformed JSON, HTML from a proxy...). */
  rawBody?: string;
  /** Wait before sending the status line and headers. */
  headersDelayMs?: number;
  /** Wait after headers before the first token. */
  firstTokenDelayMs?: number;
  /** Wait between tokens. */
  tokenDelayMs?: number;
  /** After this many tokens: stop writing and keep the connection open. */
  stallAfter?: number;
  /** After this many tokens: destroy the socket (a reset). */
  resetAfter?: number;
  /** After this many tokens: end the response cleanly but without the end marker. */
  truncateAfter?: number;
  /** After this many tokens: a provider error event, then the end. */
  errorEventAfter?: number;
  /** Send the provider's keep-alive this often while waiting or stalled. */
  keepAliveEveryMs?: number;
  /** Write the stream in pieces of this many bytes, one per event-loop turn. */
  /** Write in pieces of these sizes in turn (a re-split at chosen byte boundaries), each in its own network write. */
  splitSizes?: number[];
  splitBytes?: number;
  /** SSE line ending. */
  lineEnding?: '\n' | '\r\n' | '\r';
  /** Destroy the socket as soon as the request arrives, before any response. */
  resetOnRequest?: boolean;
  finish?: 'stop' | 'length' | 'tool_calls';
  /** Reasoning pieces streamed before the text, `tokenDelayMs` apart (the first after `firstTokenDelayMs`). */
  reasoning?: string[];
  /** Tool calls streamed after the text; the finish becomes tool_calls unless the script says otherwise. */
  toolCalls?: ToolCallScript[];
  usage?: Usage;
  /** The message of the error event `errorEventAfter` sends. */
  errorEventMessage?: string;
  /** Its type. @default 'overloaded_error' */
  errorEventType?: string;
  /** A raw stream body written after the headers instead of tokens (malformed frames, error lines...). */
  rawStream?: string;
  /** Write the whole stream (tokens, error event, epilogue) in one network write. */
  oneWrite?: boolean;
  /** Raw text written after the end marker. */
  afterEnd?: string;
  /** After the end marker, keep the connection open instead of ending the response. */
  holdOpenAfterEnd?: boolean;
  /** Compress the body, as some gateways do unasked; a stream is flushed per write. */
  compress?: 'gzip' | 'deflate' | 'br';
}

/** In any string of a script, replaced by the API key the request carried: a server that echoes the key back. */
export const ECHO_KEY = '{{key}}';

export interface RecordedRequest {
  format: WireFormat;
  /** '1.1' or '2.0'. */
  httpVersion: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

type ScriptSource = Script | ((request: RecordedRequest, index: number) => Script);

/** A server-side request budget, enforced like a provider does, independent of the client's code. */
export interface RateLimit {
  rpm: number;
  /** Requests the server lets through at once; providers enforce per-minute limits per second. @default max(1, rpm / 60) */
  burst?: number;
  /** Which rate-limit headers every response carries. @default 'none' */
  headers?: 'openai' | 'anthropic' | 'none';
  /** How a 429 says when to come back. @default 'retry-after-ms' */
  retryAfter?: 'retry-after-ms' | 'retry-after' | 'none';
  /** The requests the budget counts, as a provider's per-model limit does. @default every request */
  appliesTo?: (request: RecordedRequest) => boolean;
}

class ServerBucket {
  private allowance: number;
  private last = performance.now();
  readonly burst: number;

  constructor(readonly limit: RateLimit) {
    this.burst = limit.burst ?? Math.max(1, limit.rpm / 60);
    this.allowance = this.burst;
  }

  /** 0 when the request may go; otherwise ms until one more is allowed. */
  consume(): number {
    const now = performance.now();
    this.allowance = Math.min(this.burst, this.allowance + ((now - this.last) * this.limit.rpm) / 60_000);
    this.last = now;
    if (this.allowance >= 1) {
      this.allowance -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.allowance) * 60_000) / this.limit.rpm);
  }

  get remaining(): number {
    return Math.max(0, Math.floor(this.allowance));
  }
}

/** A scripted LLM server on 127.0.0.1 speaking OpenAI, Anthropic and Ollama wire formats. */
export class TestLlmServer {
  readonly requests: RecordedRequest[] = [];
  /** Responses the client closed before they finished. */
  disconnects = 0;
  /** 429s sent by the rate limit. */
  rejected = 0;
  /** When each request arrived (performance.now()). */
  readonly arrivals: number[] = [];
  /** Responses being written right now. */
  inProgress = 0;
  /** OpenAI's Files and Batches endpoints; each item is answered by this server's script for it. */
  readonly batches = new BatchApi((body, format) => this.batchAnswer(body, format));
  /** When on, usage reports the cache tokens each request's prefix earns (see PromptCacheModel). */
  promptCaching = false;
  readonly promptCache = new PromptCacheModel();
  private bucket: ServerBucket | undefined;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly queue: Script[] = [];
  private fallback: ScriptSource = {};
  private disconnectWaiters: (() => void)[] = [];

  private constructor(private readonly tls?: { key: string | Buffer; cert: string | Buffer }) {
    const handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void =>
      void this.handle(req as IncomingMessage, res as ServerResponse);
    // Over TLS it speaks HTTP/2 and, for clients that do not offer it, HTTP/1.1.
    this.server = tls ? createSecureServer({ ...tls, allowHTTP1: true }, handler) : createServer(handler);
    this.server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(tls?: { key: string | Buffer; cert: string | Buffer }): Promise<TestLlmServer> {
    const instance = new TestLlmServer(tls);
    await new Promise<void>((resolve) => instance.server.listen(0, '127.0.0.1', resolve));
    return instance;
  }

  get origin(): string {
    const { port } = this.server.address() as AddressInfo;
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  /** The base URL as each provider's SDK takes it. */
  baseUrl(format: WireFormat): string {
    return format === 'openai' || format === 'openai-responses' ? `${this.origin}/v1` : this.origin;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** The script for every request not covered by `enqueue`. */
  respond(source: ScriptSource): void {
    this.fallback = source;
  }

  /** Scripts for the next requests, in order. */
  enqueue(...scripts: Script[]): void {
    this.queue.push(...scripts);
  }

  /** Enforces a request budget on every request until `reset()`. */
  limit(limit: RateLimit): void {
    this.bucket = new ServerBucket(limit);
  }

  /** Lifts the request budget `limit` set. */
  unlimit(): void {
    this.bucket = undefined;
  }

  /** What one item of a provider batch is answered with: the script a live request with its body would get. */
  private batchAnswer(body: Record<string, unknown>, format: WireFormat): ItemAnswer {
    const request: RecordedRequest = {
      format,
      httpVersion: '1.1',
      path:
        { anthropic: '/v1/messages', 'openai-responses': '/v1/responses' }[format as string] ?? '/v1/chat/completions',
      headers: {},
      body,
    };
    const script = typeof this.fallback === 'function' ? this.fallback(request, -1) : this.fallback;
    const status = script.status ?? 200;
    if (status >= 400) return { status, message: script.error?.message ?? `status ${status}` };
    const tokens = script.tokens ?? DEFAULT_TOKENS;
    return { text: tokens.join(''), usage: script.usage ?? this.usageFor(request, tokens.length) };
  }

  /** The usage a request earns: with prompt caching on, what its prefix earns; otherwise 5 prompt tokens. */
  private usageFor(request: RecordedRequest, output: number): Usage {
    return this.promptCaching ? this.promptCache.usage(request.format, request.body, output) : { input: 5, output };
  }

  waitForDisconnect(): Promise<void> {
    return new Promise((resolve) => this.disconnectWaiters.push(resolve));
  }

  reset(): void {
    this.batches.reset();
    this.promptCaching = false;
    this.promptCache.reset();
    this.requests.length = 0;
    this.queue.length = 0;
    this.fallback = {};
    this.disconnects = 0;
    this.rejected = 0;
    this.arrivals.length = 0;
    this.bucket = undefined;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** What the rate limit says about this request: a 429 script when the budget is spent, and the headers every response carries. */
  private rateLimited(request: RecordedRequest): { reject?: Script; headers: Record<string, string> } {
    const bucket = this.bucket;
    if (!bucket || bucket.limit.appliesTo?.(request) === false) return { headers: {} };
    const waitMs = bucket.consume();
    const headers = rateLimitHeaders(bucket, waitMs);
    if (waitMs === 0) return { headers };
    this.rejected++;
    const style = bucket.limit.retryAfter ?? 'retry-after-ms';
    if (style === 'retry-after-ms') headers['retry-after-ms'] = String(waitMs);
    if (style === 'retry-after') headers['retry-after'] = String(Math.ceil(waitMs / 1000));
    return {
      reject: { status: 429, error: { message: 'Rate limit reached for requests', type: 'rate_limit_exceeded' } },
      headers,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.batches.handles(req)) return this.batches.handle(req, res);
    const recorded = await record(req);
    const index = this.requests.push(recorded) - 1;
    this.arrivals.push(performance.now());
    const limited = this.rateLimited(recorded);
    const scripted =
      limited.reject ??
      this.queue.shift() ??
      (typeof this.fallback === 'function' ? this.fallback(recorded, index) : this.fallback);
    const script = echoKey({ ...scripted, headers: { ...limited.headers, ...scripted.headers } }, recorded);
    const usage = script.usage ?? this.usageFor(recorded, (script.tokens ?? DEFAULT_TOKENS).length);
    const responder = new Responder(recorded, { ...script, usage }, res);
    this.inProgress++;
    res.on('close', () => {
      this.inProgress--;
      if (responder.ended || responder.closedByServer) return;
      this.disconnects++;
      for (const resolve of this.disconnectWaiters.splice(0)) resolve();
    });
    await responder.run();
  }
}

async function record(req: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const path = req.url ?? '/';
  return {
    format: formatOf(path),
    httpVersion: req.httpVersion,
    path,
    headers: req.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The script with every ECHO_KEY replaced by the key this request carried. */
function echoKey(script: Script, request: RecordedRequest): Script {
  const text = JSON.stringify(script);
  if (!text.includes(ECHO_KEY)) return script;
  const bearer = /^Bearer (.*)$/s.exec(String(request.headers.authorization ?? ''))?.[1];
  const key = bearer ?? String(request.headers['x-api-key'] ?? '');
  return JSON.parse(text.split(ECHO_KEY).join(JSON.stringify(key).slice(1, -1))) as Script;
}

function formatOf(path: string): WireFormat {
  if (path.startsWith('/api/chat')) return 'ollama';
  if (path.startsWith('/v1/responses')) return 'openai-responses';
  if (path.startsWith('/v1/messages')) return 'anthropic';
  return 'openai';
}

/** Plays one script onto one response. */
class Responder {
  private readonly parts: WireParts;
  private readonly tokens: string[];
  private keepAlive: NodeJS.Timeout | undefined;
  /** Where the body goes: the response, or a compressor in front of it. */
  private out: { write(chunk: Buffer | string): void; end(chunk?: string): void; flush?(): void };
  /** Writes held back for `oneWrite`. */
  private held: Buffer[] | undefined;
  /** The script itself cut the connection; that is not a client disconnect. */
  closedByServer = false;
  /** The response was written to its end. (HTTP/2's compat response reports itself finished even when the client reset the stream.) */
  ended = false;

  constructor(
    private readonly request: RecordedRequest,
    private readonly script: Script,
    private readonly res: ServerResponse,
  ) {
    const usage = script.usage ?? { input: 5, output: (script.tokens ?? DEFAULT_TOKENS).length };
    this.parts = wireParts(
      request.format,
      typeof request.body.model === 'string' ? request.body.model : 'test-model',
      usage,
      { reasoning: Boolean(script.reasoning?.length) },
    );
    this.tokens = script.tokens ?? DEFAULT_TOKENS;
    this.out = res;
    if (script.oneWrite) this.held = [];
  }

  async run(): Promise<void> {
    const { script, res } = this;
    if (script.resetOnRequest) return this.resetSocket();
    if (script.headersDelayMs) await this.sleep(script.headersDelayMs);
    if (this.gone) return;
    if ((script.status ?? 200) >= 400 || script.rawBody !== undefined) return this.sendWhole();
    if (this.request.body.stream === false) return this.sendWhole();
    res.writeHead(200, {
      'content-type': this.parts.contentType,
      'cache-control': 'no-cache',
      'x-request-id': 'req_test_1',
      ...this.encodingHeader(),
      ...script.headers,
    });
    res.flushHeaders();
    this.out = this.compressor() ?? res;
    this.startKeepAlive();
    try {
      if (script.rawStream !== undefined) {
        await this.write(script.rawStream);
        this.end();
      } else {
        await this.stream();
      }
    } finally {
      clearInterval(this.keepAlive);
    }
  }

  private encodingHeader(): Record<string, string> {
    return this.script.compress ? { 'content-encoding': this.script.compress } : {};
  }

  /** A zlib stream in front of the response, flushed after every write so a compressed stream still streams. */
  private compressor(): Responder['out'] | undefined {
    const kind = this.script.compress;
    if (!kind) return undefined;
    const zip = kind === 'gzip' ? createGzip() : kind === 'deflate' ? createDeflate() : createBrotliCompress();
    zip.pipe(this.res);
    return {
      write: (chunk) => {
        zip.write(chunk);
        zip.flush();
      },
      end: (chunk) => (chunk === undefined ? zip.end() : zip.end(chunk)),
    };
  }

  private get gone(): boolean {
    return this.res.destroyed;
  }

  private sendWhole(): void {
    const { script, request } = this;
    const status = script.status ?? 200;
    const type =
      script.error?.type ??
      (status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
    const body =
      script.rawBody ??
      JSON.stringify(
        status >= 400
          ? errorBody(request.format, script.error?.message ?? `status ${status}`, type)
          : wholeBody(
              request.format,
              String(request.body.model),
              this.tokens.join(''),
              FINISH_WORD[request.format][script.finish ?? 'stop'],
              script.usage ?? { input: 5, output: this.tokens.length },
            ),
      );
    this.res.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': 'req_test_1',
      ...this.encodingHeader(),
      ...script.headers,
    });
    const kind = script.compress;
    this.ended = true;
    if (!kind) return void this.res.end(body);
    this.res.end(kind === 'gzip' ? gzipSync(body) : kind === 'deflate' ? deflateSync(body) : brotliCompressSync(body));
  }

  private async stream(): Promise<void> {
    const { script, parts } = this;
    await this.write(parts.prelude.join(''));
    if (script.firstTokenDelayMs) await this.sleep(script.firstTokenDelayMs);
    for (const [i, piece] of (script.reasoning ?? []).entries()) {
      if (i > 0 && script.tokenDelayMs) await this.sleep(script.tokenDelayMs);
      if (this.gone) return;
      await this.write(parts.reasoning(piece));
    }
    if (script.reasoning?.length) await this.write(parts.textStart);
    for (let i = 0; i < this.tokens.length; i++) {
      if (i > 0 && script.tokenDelayMs) await this.sleep(script.tokenDelayMs);
      if (this.gone) return;
      if (i === script.stallAfter) return; // keep-alive goes on; the client's idle timeout must act
      if (i === script.resetAfter) return this.resetSocket();
      if (i === script.truncateAfter) return this.end();
      if (i === script.errorEventAfter)
        return this.end(
          this.encode(
            parts.error(
              script.errorEventMessage ?? 'The server had an error while processing your request.',
              script.errorEventType ?? 'overloaded_error',
            ),
          ),
        );
      await this.write(parts.token(this.tokens[i] as string));
    }
    if (this.tokens.length === script.stallAfter) return;
    for (const [index, call] of (script.toolCalls ?? []).entries()) await this.write(parts.toolCall(call, index));
    const finish = script.finish ?? (script.toolCalls?.length ? 'tool_calls' : 'stop');
    await this.write(parts.epilogue(FINISH_WORD[this.request.format][finish]).join(''));
    if (script.afterEnd !== undefined) await this.write(script.afterEnd);
    if (script.holdOpenAfterEnd) return this.flushHeld(); // the client must end the answer at the end marker
    if (!this.gone) this.end();
  }

  /** Sends what `oneWrite` held back, as one write. */
  private flushHeld(): void {
    const held = this.held;
    this.held = undefined;
    if (held?.length) this.out.write(Buffer.concat(held));
  }

  /** Waits, but stops waiting (and leaves no timer) when the client goes away. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.res.on('close', done);
    });
  }

  private end(chunk?: string): void {
    this.ended = true;
    if (this.held) {
      if (chunk !== undefined) this.held.push(Buffer.from(chunk));
      const held = Buffer.concat(this.held);
      this.held = undefined;
      return this.out.end(held.toString('utf8'));
    }
    if (chunk === undefined) this.out.end();
    else this.out.end(chunk);
  }

  private resetSocket(): void {
    this.closedByServer = true;
    this.res.socket?.resetAndDestroy();
  }

  private startKeepAlive(): void {
    const every = this.script.keepAliveEveryMs;
    if (!every || !this.parts.keepAlive) return;
    this.keepAlive = setInterval(() => {
      if (!this.gone) this.out.write(this.encode(this.parts.keepAlive));
    }, every);
  }

  private encode(text: string): string {
    const ending = this.script.lineEnding;
    return ending && ending !== '\n' && this.request.format !== 'ollama' ? text.replace(/\n/g, ending) : text;
  }

  private async write(text: string): Promise<void> {
    if (this.gone || text.length === 0) return;
    const bytes = Buffer.from(this.encode(text), 'utf8');
    if (this.held) return void this.held.push(bytes);
    const sizes = this.script.splitSizes ?? (this.script.splitBytes ? [this.script.splitBytes] : undefined);
    if (!sizes?.length) return void this.out.write(bytes);
    for (let offset = 0, piece = 0; offset < bytes.length && !this.gone; piece++) {
      const size = Math.max(1, sizes[piece % sizes.length]!);
      this.out.write(bytes.subarray(offset, offset + size));
      offset += size;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const DEFAULT_TOKENS = ['Hello', ', ', 'world!'];

function rateLimitHeaders(bucket: ServerBucket, waitMs: number): Record<string, string> {
  const { rpm, headers } = bucket.limit;
  const resetMs = waitMs || Math.ceil(((bucket.burst - bucket.remaining) * 60_000) / rpm);
  if (headers === 'openai') {
    return {
      'x-ratelimit-limit-requests': String(rpm),
      'x-ratelimit-remaining-requests': String(bucket.remaining),
      'x-ratelimit-reset-requests': `${resetMs}ms`,
    };
  }
  if (headers === 'anthropic') {
    return {
      'anthropic-ratelimit-requests-limit': String(rpm),
      'anthropic-ratelimit-requests-remaining': String(bucket.remaining),
      'anthropic-ratelimit-requests-reset': new Date(Date.now() + resetMs).toISOString(),
    };
  }
  return {};
}
