import { createParser, type EventSourceParser } from 'eventsource-parser';
import { ProtocolError } from '../errors';
import type { Frame, FrameDecoder } from './frame';

/** An event longer than this is not an LLM delta; stop before memory runs out. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Server-sent events, parsed by eventsource-parser (which follows the WHATWG
 * rules for LF, CR and CRLF, comments, multi-line data and unknown fields).
 * The streaming TextDecoder joins UTF-8 sequences split across chunks and
 * drops a leading byte-order mark.
 */
export class SseDecoder implements FrameDecoder {
  private readonly text = new TextDecoder('utf-8', { fatal: false });
  private readonly parser: EventSourceParser;
  private frames: Frame[] = [];
  private failure: ProtocolError | undefined;
  private endsOnLineBreak = true;

  constructor() {
    this.parser = createParser({
      maxBufferSize: MAX_EVENT_BYTES,
      // The parser's message is a frame already (event and data): passed on as it is, not copied.
      onEvent: (message) => this.frames.push(message),
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') {
          this.failure = new ProtocolError(
            'The server sent a stream event larger than 16 MB; the stream is not valid.',
          );
        }
      },
    });
  }

  push(bytes: Uint8Array): Frame[] {
    this.feed(this.text.decode(bytes, { stream: true }));
    return this.take();
  }

  end(): Frame[] {
    this.feed(this.text.decode());
    // A last event without its blank line still counts when its lines are whole;
    // a line cut off mid-way is left out, so truncation is reported as such.
    if (this.endsOnLineBreak) this.feed('\n\n');
    return this.take();
  }

  private feed(chunk: string): void {
    if (chunk.length === 0) return;
    this.endsOnLineBreak = /[\r\n]$/.test(chunk);
    this.parser.feed(chunk);
    if (this.failure) throw this.failure;
  }

  private take(): Frame[] {
    const frames = this.frames;
    this.frames = [];
    return frames;
  }
}
