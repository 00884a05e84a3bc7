import type { Frame, FrameDecoder } from '../decode/frame';
import type { ChunkSource } from '../http/response-body';
import { NdjsonDecoder } from '../decode/ndjson';
import { SseDecoder } from '../decode/sse';
import { ProtocolError, describeSite, type ErrorSite } from '../errors';
import { describeBody } from './http-errors';
import type { Provider, StreamReader } from '../providers';
import type { SecretScrubber, TextFilter } from '../guards/secrets';
import type { PhaseTimers } from './timeouts';
import { isOutput, type StreamEvent } from '../types';

/** What an attempt reads its answer from: a successful response, already decompressed. */
export interface AnswerSource {
  body: ChunkSource;
  headers: Record<string, string>;
  provider: Provider;
  site: ErrorSite;
  timers: PhaseTimers;
  scrubber: SecretScrubber;
  /** The request asked for a stream (a server may still answer with one JSON body). */
  stream: boolean;
}

/** A non-streaming answer larger than this is not a chat answer. */
const MAX_JSON_BODY_BYTES = 64 * 1024 * 1024;

/** Whether the answer comes as a stream (else one JSON body, even when a stream was asked for). */
export function isStreamed(source: Pick<AnswerSource, 'headers' | 'stream'>): boolean {
  return source.stream && !(source.headers['content-type'] ?? '').includes('application/json');
}

/**
 * A streamed answer, one network chunk at a time; plain calls, so the
 * attempt reading the socket is the only loop. It ends at the provider's end
 * marker ([DONE], message_stop, done: true): nothing after it is parsed, so
 * junk after a finished answer cannot fail it, and a server that holds the
 * connection open afterwards cannot turn it into an idle timeout. Events
 * decoded before a failure in the same network chunk still reach the caller.
 */
export class StreamDecoder {
  private readonly decoder: FrameDecoder;
  private readonly state: StreamState;

  constructor(private readonly source: AnswerSource) {
    this.decoder = source.provider.framing === 'sse' ? new SseDecoder() : new NdjsonDecoder();
    this.state = {
      reader: source.provider.createReader(source.site),
      timers: source.timers,
      scrubber: source.scrubber,
      text: source.scrubber.textFilter(),
    };
  }

  /** Whether the end marker has arrived: the answer is over, whatever follows. */
  get ended(): boolean {
    return this.state.reader.ended;
  }

  /** The events of one chunk; `failure` is what stopped them, thrown after they are passed on. */
  push(chunk: Buffer): { events: StreamEvent[]; failure?: Error } {
    return eventsOf(this.decoder.push(chunk), this.state);
  }

  /** The body ended: what its last frame held, or a failure when the answer was cut off. */
  end(): { events: StreamEvent[]; failure?: Error } {
    const { events, failure } = eventsOf(this.decoder.end(), this.state);
    if (failure !== undefined || this.state.reader.finished) return { events, failure };
    const { provider, site } = this.source;
    return {
      events,
      failure: new ProtocolError(
        `${describeSite(site)} closed the stream before the answer finished (no ${provider.endMarker}); the connection was cut. Try again.`,
        { site },
      ),
    };
  }
}

interface StreamState {
  reader: StreamReader;
  timers: PhaseTimers;
  scrubber: SecretScrubber;
  /** Holds back the start of a secret split across deltas until the next delta shows whether it is one. */
  text: TextFilter;
}

/**
 * The events of one chunk's frames, up to the end marker, and what stopped
 * them if something did. Text held back by the filter is released before
 * the first event that is not text (finish, usage) and at the end marker;
 * on a failure it stays back, since it may be the start of a key.
 */
function eventsOf(
  frames: Frame[],
  { reader, timers, scrubber, text }: StreamState,
): { events: StreamEvent[]; failure?: Error } {
  const events: StreamEvent[] = [];
  // Content in this chunk ends the first-token wait and restarts the idle gap; once per chunk is enough.
  let content = false;
  for (const frame of frames) {
    if (reader.ended) break;
    frame.data = scrubber.scrub(frame.data);
    let read: StreamEvent[];
    try {
      read = reader.read(frame);
    } catch (failure) {
      if (content) timers.contentArrived();
      return { events, failure: failure as Error };
    }
    for (const event of read) {
      if (event.type === 'text') {
        content = true;
        const safe = text.push(event.text);
        if (safe) events.push(safe === event.text ? event : { type: 'text', text: safe });
        continue;
      }
      // Reasoning and tool-call pieces are output too: a model that thinks for minutes is making progress.
      if (isOutput(event)) content = true;
      releaseHeld(text, events);
      events.push(event);
    }
  }
  if (content) timers.contentArrived();
  if (reader.ended || reader.finished) releaseHeld(text, events);
  return { events };
}

function releaseHeld(filter: TextFilter, events: StreamEvent[]): void {
  const held = filter.flush();
  if (held) events.push({ type: 'text', text: held });
}

/** A non-streaming answer (or a server that ignored `stream: true` and sent JSON). */
export async function readWhole({ body, provider, site, timers, scrubber }: AnswerSource): Promise<StreamEvent[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    // Bytes of a whole answer are its progress: the first ends the first-token wait.
    timers.contentArrived();
    size += chunk.length;
    if (size > MAX_JSON_BODY_BYTES)
      throw new ProtocolError(`${describeSite(site)} sent a response larger than 64 MB.`, { site });
    chunks.push(chunk);
  }
  const text = scrubber.scrub(Buffer.concat(chunks).toString('utf8'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError(
      `${describeSite(site)} answered with ${describeBody(text)}, not JSON; check that the base URL points at the API.`,
      { site, cause },
    );
  }
  return provider.readCompletion(parsed, site);
}
