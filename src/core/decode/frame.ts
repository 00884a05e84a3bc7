/** One unit of a streamed response: an SSE event, or one NDJSON line (with no `event`). */
export interface Frame {
  event?: string;
  data: string;
}

/**
 * Turns response bytes into frames. Bytes may be split anywhere, including
 * inside a multi-byte UTF-8 character or between `\r` and `\n`.
 */
export interface FrameDecoder {
  push(bytes: Uint8Array): Frame[];
  /** The body ended: returns any complete frame still held. */
  end(): Frame[];
}
