import { CancelledError, FlowgateError, ProtocolError, describeSite, type ErrorSite } from './errors';
import { NdjsonDecoder } from './decode/ndjson';
import { SseDecoder } from './decode/sse';
import type { Frame } from './decode/frame';
import { readHttpError } from './http-errors';
import type { PoolRegistry } from './http/pools';
import { send, type RawResponse } from './http/send';
import { toNetworkError } from './network-errors';
import type { Provider, StreamReader } from './providers';
import { PhaseTimers, type Timeouts } from './timeouts';
import type { ChatRequest, Endpoint, StreamEvent } from './types';

export interface AttemptContext {
  provider: Provider;
  endpoint: Endpoint;
  origin: string;
  request: ChatRequest;
  /** false: ask for one JSON answer instead of a stream. */
  stream: boolean;
  timeouts: Timeouts;
  pools: PoolRegistry;
  signal?: AbortSignal;
  /** When the whole call must be over (epoch ms), across queueing and retries. */
  deadlineAt?: number;
}

/** A non-streaming answer larger than this is not a chat answer. */
const MAX_JSON_BODY_BYTES = 64 * 1024 * 1024;

/**
 * One HTTP exchange with one endpoint, as batches of typed events: one batch
 * per network chunk, so the layers above pay their async hand-offs per chunk
 * rather than per token. Every way it can end
 * (done, timeout of any phase, cancellation, a network or protocol fault, the
 * consumer stopping early) clears its timers and listeners and closes its
 * socket unless the response finished cleanly.
 */
export async function* runAttempt(ctx: AttemptContext): AsyncGenerator<StreamEvent[]> {
  const site: ErrorSite = { provider: ctx.provider.kind, origin: ctx.origin };
  if (ctx.signal?.aborted) throw new CancelledError({ site });
  const abort = new AbortController();
  const timers = new PhaseTimers(ctx.timeouts, site, (error) => abort.abort(error));
  const cancel = (): void => abort.abort(new CancelledError({ site }));
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  let sent = false;
  let response: RawResponse | undefined;
  timers.start(ctx.deadlineAt);
  try {
    const wire = ctx.provider.encode(ctx.endpoint, ctx.request, ctx.stream);
    const dispatcher = ctx.pools.get(ctx.origin, ctx.timeouts.connectMs, ctx.endpoint.http2);
    const onSent = (): void => {
      sent = true;
      timers.requestSent();
    };
    response = await send({ dispatcher, origin: ctx.origin, ...wire, signal: abort.signal, onSent });
    const requestId = response.headers['x-request-id'] ?? response.headers['request-id'];
    if (response.status >= 400) throw await readHttpError(response, site, requestId, ctx.endpoint.apiKey);
    yield [{ type: 'response', status: response.status, requestId, headers: response.headers }];
    const reader = ctx.provider.createReader(site);
    if (ctx.stream && !isJson(response)) yield* readStream(response, ctx.provider, reader, site, timers);
    else yield* readWhole(response, ctx.provider, site, timers);
  } catch (error) {
    throw classify(error, abort.signal, site, sent, ctx.timeouts.connectMs);
  } finally {
    timers.clear();
    ctx.signal?.removeEventListener('abort', cancel);
    response?.body.destroy();
  }
}

async function* readStream(response: RawResponse, provider: Provider, reader: StreamReader, site: ErrorSite, timers: PhaseTimers): AsyncGenerator<StreamEvent[]> {
  const decoder = provider.framing === 'sse' ? new SseDecoder() : new NdjsonDecoder();
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    const events = eventsOf(decoder.push(chunk), reader, timers);
    if (events.length) yield events;
  }
  const last = eventsOf(decoder.end(), reader, timers);
  if (last.length) yield last;
  if (!reader.finished) {
    throw new ProtocolError(
      `${describeSite(site)} closed the stream before the answer finished (no ${provider.endMarker}); the connection was cut. Try again.`,
      { site },
    );
  }
}

function eventsOf(frames: Frame[], reader: StreamReader, timers: PhaseTimers): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const frame of frames) {
    for (const event of reader.read(frame)) {
      if (event.type === 'text') timers.contentArrived();
      events.push(event);
    }
  }
  return events;
}

/** A non-streaming answer (or a server that ignored `stream: true` and sent JSON). */
async function* readWhole(response: RawResponse, provider: Provider, site: ErrorSite, timers: PhaseTimers): AsyncGenerator<StreamEvent[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    // Bytes of a whole answer are its progress: the first ends the first-token wait.
    timers.contentArrived();
    size += chunk.length;
    if (size > MAX_JSON_BODY_BYTES) throw new ProtocolError(`${describeSite(site)} sent a response larger than 64 MB.`, { site });
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (cause) {
    throw new ProtocolError(`${describeSite(site)} sent a response that is not JSON; check that the base URL points at the API.`, { site, cause });
  }
  yield provider.readCompletion(body, site);
}

function isJson(response: RawResponse): boolean {
  return (response.headers['content-type'] ?? '').includes('application/json');
}

/** The abort reason wins: a timeout or a cancellation explains a socket error better than the socket error. */
function classify(error: unknown, signal: AbortSignal, site: ErrorSite, sent: boolean, connectMs: number): FlowgateError {
  if (signal.aborted && signal.reason instanceof FlowgateError) return signal.reason;
  if (error instanceof FlowgateError) return error;
  return toNetworkError(error, site, sent, connectMs);
}
