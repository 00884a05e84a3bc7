import type { Readable } from 'node:stream';
import { CancelledError } from '../errors';

/** A response body, read one chunk at a time. */
export interface ChunkSource extends AsyncIterable<Buffer> {
  /** The next chunk, or null once the body has ended; rejects with what cut it off. */
  read(): Promise<Buffer | null>;
  /** Stops the response: its connection is closed unless the body had arrived whole. */
  destroy(error?: Error): void;
  /** Whether the whole body has arrived (not necessarily been read). */
  readonly complete: boolean;
  /** Reads and discards the rest for at most `ms`, so that the connection can be reused. */
  drain(ms: number): Promise<void>;
}

/** How the body asks undici to stop and go on reading the socket, and to close it. */
export interface BodyControl {
  pause(): void;
  resume(): void;
  abort(error: Error): void;
}

/**
 * Bytes held before undici is asked to stop reading the socket. A count of
 * chunks would not do: a chunked body gives one chunk per piece of the
 * encoding, often one token each, and pausing mid-read splits what arrived
 * together into many reads.
 */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * The body as undici hands it over, chunk by chunk, in a plain queue: the
 * reader pays one promise per chunk and nothing else, where a Node Readable
 * with its async iterator costs several objects and event hops per chunk.
 * Backpressured: when the reader falls behind, undici stops reading the socket.
 */
export class ResponseBody implements ChunkSource {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private waiting: { resolve: (chunk: Buffer | null) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;
  private paused = false;
  private destroyed = false;

  constructor(private readonly control: BodyControl) {}

  get complete(): boolean {
    return this.ended;
  }

  /** From undici: a chunk arrived. */
  push(chunk: Buffer): void {
    if (this.destroyed) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    // A waiting reader is handed the chunk after the current turn, together with the ones undici
    // parses from the same socket read (a chunked body gives one call per chunk of the encoding).
    if (this.waiting && this.queue.length === 1) queueMicrotask(this.handOver);
    if (this.queuedBytes >= HIGH_WATER_BYTES && !this.paused) {
      this.paused = true;
      this.control.pause();
    }
  }

  private readonly handOver = (): void => {
    const waiting = this.waiting;
    if (!waiting || this.queue.length === 0) return;
    this.waiting = undefined;
    waiting.resolve(this.takeQueued());
  };

  /** From undici: the body is whole. */
  end(): void {
    this.ended = true;
    if (this.queue.length > 0) return; // handed over first; the read after that sees the end
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(null);
  }

  /** From undici, or from the attempt: the body was cut off. */
  fail(error: Error): void {
    if (this.failure || this.ended) return;
    this.failure = error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  /**
   * Everything that arrived since the last read, as one chunk: a reader that
   * fell behind catches up in one step, paying its per-chunk work once
   * (as a Node Readable's read() does).
   */
  read(): Promise<Buffer | null> {
    if (this.queue.length > 0) return Promise.resolve(this.takeQueued());
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    this.resumeIfPaused();
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  destroy(error?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    // Arrived whole: the connection goes back to the pool. Cut off: it is already closed.
    if (this.ended || this.failure) return;
    const reason = error ?? new CancelledError();
    this.control.abort(reason);
    this.fail(reason);
  }

  drain(ms: number): Promise<void> {
    if (this.ended || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const discard = (): void =>
        void this.read().then(
          (chunk) => (chunk === null ? (clearTimeout(timer), resolve()) : discard()),
          () => (clearTimeout(timer), resolve()),
        );
      discard();
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }

  private takeQueued(): Buffer {
    const chunk = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.resumeIfPaused();
    return chunk;
  }

  private resumeIfPaused(): void {
    if (!this.paused) return;
    this.paused = false;
    this.control.resume();
  }
}

/**
 * A Node stream as a chunk source: a decompressed body, whose zlib stream
 * sits between the socket's body and the reader. Destroying it destroys the
 * socket's body too.
 */
export class ReadableSource implements ChunkSource {
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(
    private readonly stream: Readable,
    private readonly raw: ChunkSource,
  ) {
    // Not destroyed on return: after the end marker the response may still be ending, and the attempt lets it.
    this.iterator = stream.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  get complete(): boolean {
    return this.raw.complete;
  }

  async read(): Promise<Buffer | null> {
    const next = await this.iterator.next();
    return next.done ? null : next.value;
  }

  destroy(error?: Error): void {
    this.stream.destroy(error);
    this.raw.destroy(error);
  }

  drain(ms: number): Promise<void> {
    const stream = this.stream;
    if (stream.readableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stream.off('end', done).off('error', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stream.on('end', done).on('error', done);
      stream.resume();
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }
}
