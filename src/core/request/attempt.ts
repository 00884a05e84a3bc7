import { onAbort } from './abort';
import { StreamDecoder, isStreamed, readWhole } from './answer-reader';
import { CancelledError, FlowgateError, ProtocolError, describeSite, type ErrorSite } from '../errors';
import { notAnAnswer, readHttpError, redirectError } from './http-errors';
import { decodedBody, isDecodingError } from '../http/content';
import type { PoolRegistry } from '../http/pools';
import type { ChunkSource } from '../http/response-body';
import { send, type RawResponse } from '../http/send';
import { StopSwitch } from '../http/stop-switch';
import { checkApiKey } from './key-check';
import { toNetworkError } from './network-errors';
import type { Provider } from '../providers';
import { SecretScrubber } from '../guards/secrets';
import { PhaseTimers, type Timeouts } from './timeouts';
import type { ChatRequest, Endpoint, StreamEvent } from '../types';

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
  /** The endpoint's secrets, taken out of everything the server sends back. */
  scrubber?: SecretScrubber;
}

/**
 * After the end marker, how long the server may take to end the response
 * before its connection is closed: the rest is read and discarded for that
 * long, so that the connection can be reused.
 */
const END_GRACE_MS = 200;

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
  const scrubber = ctx.scrubber ?? SecretScrubber.of(ctx.endpoint);
  const stop = new StopSwitch();
  const timers = new PhaseTimers(ctx.timeouts, site, (error) => stop.stop(error));
  const stopListening = onAbort(ctx.signal, () => stop.stop(new CancelledError({ site })));
  let sent = false;
  let response: RawResponse | undefined;
  let body: ChunkSource | undefined;
  timers.start(ctx.deadlineAt);
  try {
    checkApiKey(ctx.endpoint.apiKey, site);
    const wire = ctx.provider.encode(ctx.endpoint, ctx.request, ctx.stream);
    const dispatcher = ctx.pools.get(ctx.origin, ctx.timeouts.connectMs, ctx.endpoint.http2);
    const onSent = (): void => {
      sent = true;
      timers.requestSent();
    };
    response = await send({ dispatcher, origin: ctx.origin, ...wire, stop, onSent });
    // Everything the server says passes the scrubber before anything reads it.
    const headers = scrubber.scrubHeaders(response.headers);
    body = decodedBody(response.body, headers['content-encoding']);
    const requestId = headers['x-request-id'] ?? headers['request-id'];
    const answer = { status: response.status, headers, body, requestId };
    if (answer.status >= 300 && answer.status < 400) throw redirectError(answer, site);
    if (answer.status >= 400) throw await readHttpError(answer, site, scrubber);
    if (isHtml(headers)) throw await notAnAnswer(answer, site, scrubber);
    yield [{ type: 'response', status: answer.status, requestId, headers }];
    const source = { body, headers, provider: ctx.provider, site, timers, scrubber, stream: ctx.stream };
    if (isStreamed(source)) {
      const decoder = new StreamDecoder(source);
      // The one loop over the socket's chunks: each is decoded and passed on as one batch.
      while (!decoder.ended) {
        const chunk = await body.read();
        const { events, failure } = chunk === null ? decoder.end() : decoder.push(chunk);
        if (events.length) yield events;
        if (failure !== undefined) throw failure;
        if (chunk === null) break;
      }
    } else {
      yield await readWhole(source);
    }
    if (!body.complete) await body.drain(END_GRACE_MS);
  } catch (error) {
    throw classify(error, stop.reason, site, sent, ctx.timeouts.connectMs);
  } finally {
    timers.clear();
    stopListening();
    // Closes the connection unless the response arrived whole; a decoded body takes the socket's body with it.
    (body ?? response?.body)?.destroy();
  }
}

function isHtml(headers: Record<string, string>): boolean {
  return /^\s*text\/html/i.test(headers['content-type'] ?? '');
}

/** The stop's reason wins: a timeout or a cancellation explains a socket error better than the socket error. */
function classify(
  error: unknown,
  stopReason: Error | undefined,
  site: ErrorSite,
  sent: boolean,
  connectMs: number,
): FlowgateError {
  if (stopReason instanceof FlowgateError) return stopReason;
  if (error instanceof FlowgateError) return error;
  if (isDecodingError(error)) {
    return new ProtocolError(
      `${describeSite(site)} sent a compressed body that could not be decoded (${(error as { code: string }).code}); the response was cut off or is not what its content-encoding says.`,
      { site, cause: error },
    );
  }
  return toNetworkError(error, site, sent, connectMs);
}
