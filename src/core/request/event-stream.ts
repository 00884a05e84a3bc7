import type { StreamEvent } from '../types';

/**
 * A call's events one at a time, served from its batches (one per network
 * chunk). An event already at hand is handed over with one promise, where
 * an async generator would suspend and resume for every event; with two
 * hundred tokens in a chunk that was most of the engine's cost per chunk.
 * Stopping early (`break`, `return()`) stops the call, as with a generator.
 */
export class EventStream implements AsyncGenerator<StreamEvent> {
  private batches: AsyncIterator<StreamEvent[]> | undefined;
  private batch: StreamEvent[] = [];
  private at = 0;
  private done = false;

  /** `open` starts the call on the first `next()`, so that a bad setting fails there, as it would in a generator. */
  constructor(private readonly open: () => AsyncIterable<StreamEvent[]>) {}

  async next(): Promise<IteratorResult<StreamEvent>> {
    while (this.at >= this.batch.length) {
      if (this.done) return { value: undefined, done: true };
      try {
        this.batches ??= this.open()[Symbol.asyncIterator]();
        const step = await this.batches.next();
        if (step.done) return this.finish();
        this.batch = step.value;
        this.at = 0;
      } catch (error) {
        this.finish();
        throw error;
      }
    }
    return { value: this.batch[this.at++]!, done: false };
  }

  async return(): Promise<IteratorResult<StreamEvent>> {
    const batches = this.batches;
    this.finish();
    await batches?.return?.();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<StreamEvent>> {
    const batches = this.batches;
    this.finish();
    if (batches?.throw) await batches.throw(error);
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): IteratorResult<StreamEvent> {
    this.done = true;
    this.batch = [];
    this.at = 0;
    return { value: undefined, done: true };
  }
}
