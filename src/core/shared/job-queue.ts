/**
 * One batch job worked on by several processes, through Redis: the inputs
 * go once into a stream, each process leases items through a consumer
 * group, renews its leases while it works, and an item whose worker stopped
 * renewing (it died) is leased again to another. An item's result is
 * committed exactly once (HSETNX): the first worker to finish it writes its
 * output, a late duplicate is dropped. Every record lands in one hash, from
 * which any worker writes the job's report.
 */
import type { Redis } from 'ioredis';
import type { ItemRecord } from '../batch/journal';
import { CancelledError, ConfigError, NetworkError } from '../errors';
import type { RedisSharedState } from './redis-state';

export interface QueuedItem {
  id: string;
  input: string;
}

const GROUP = 'workers';

/** How long a shared job outlives its last worker in Redis. */
const JOB_KEPT_MS = 30 * 24 * 3_600_000;

/** KEYS: records, items. ARGV: the input, its failed record as read. Queues it again unless the record changed meanwhile. */
const REQUEUE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'input', ARGV[1])
return 1
`;

export class JobQueue {
  private readonly key: string;
  /** When the job's keys were last given their time to live. */
  private keptAt = 0;
  private committedAny = false;

  private constructor(
    /** A connection of its own: the queue's blocking reads must not wait behind the limits' fast calls, nor they behind them. */
    private readonly redis: Redis,
    private readonly consumer: string,
    job: string,
    readonly leaseMs: number,
    private readonly where: string,
    private readonly name: string,
  ) {
    this.key = `flowgate:v1:job:${job}`;
  }

  /**
   * The queue `name` (the `--join` name) stands for. The name is bound to
   * the first job that uses it (`jobId`: the prompt, endpoint and options):
   * a process bringing another job under the same name is refused, since
   * two jobs writing into one folder would each write every file. An item
   * whose worker has not renewed it for `leaseMs` goes to another.
   */
  static async open(state: RedisSharedState, name: string, jobId: string, leaseMs = 30_000): Promise<JobQueue> {
    const redis = state.redis.duplicate({ commandTimeout: 10_000 });
    redis.on('error', () => {});
    try {
      await redis.connect();
      const binding = `flowgate:v1:join:${name}`;
      await redis.set(binding, jobId, 'NX');
      const bound = await redis.get(binding);
      if (bound !== jobId)
        throw new ConfigError(
          `The shared batch "${name}" at ${state.where} is another job: its prompt, endpoint, model or options (redaction, sending files that look like secrets or binary) differ from this one's. Join it with the same prompt, endpoint and options, or choose another name.`,
        );
      const queue = new JobQueue(redis, state.participant, `${name}:${jobId}`, leaseMs, state.where, name);
      await queue.keep();
      return queue;
    } catch (error) {
      redis.disconnect();
      throw error;
    }
  }

  /**
   * Keeps the job in Redis for JOB_KEPT_MS after it was last worked on: a
   * finished job can be joined again (to retry its failures) for that long,
   * and then its name is free for another job.
   */
  async keep(): Promise<void> {
    this.keptAt = Date.now();
    const keys = [`flowgate:v1:join:${this.name}`, ...['total', 'items', 'records'].map((k) => `${this.key}:${k}`)];
    await keys.reduce((pipeline, key) => pipeline.pexpire(key, JOB_KEPT_MS), this.redis.pipeline()).exec();
  }

  /** Redis lost mid-job, as one clear error: what is written stays, and the journal lets the next run go on. */
  lost(error: unknown): NetworkError {
    const why = error instanceof Error ? error.message : String(error);
    return new NetworkError(
      `Lost the shared batch queue at ${this.where} (${why}). Every answer written so far stays, recorded in the job's journal; run the batch again once Redis is back, or alone (without --join), to go on.`,
      { beforeSend: true },
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * Puts every input on the queue once, whoever comes first; the others wait
   * for the count. A seeder that dies half-way lets another seed again:
   * inputs queued twice are harmless, each is committed once.
   */
  async seed(inputs: () => AsyncIterable<string>, signal?: AbortSignal): Promise<number> {
    for (;;) {
      if (signal?.aborted) throw new CancelledError();
      const total = await this.redis.get(`${this.key}:total`);
      if (total !== null) return Number(total);
      if ((await this.redis.set(`${this.key}:seeding`, this.consumer, 'PX', 30_000, 'NX')) === 'OK')
        return this.seedAll(inputs);
      await new Promise((resolve) => setTimeout(resolve, 100)); // another process is seeding
    }
  }

  private async seedAll(inputs: () => AsyncIterable<string>): Promise<number> {
    const { redis } = this;
    await redis.xgroup('CREATE', `${this.key}:items`, GROUP, '0', 'MKSTREAM').catch(() => {});
    let count = 0;
    for await (const input of inputs()) {
      await redis.xadd(`${this.key}:items`, '*', 'input', input);
      if (++count % 500 === 0) await redis.pexpire(`${this.key}:seeding`, 30_000);
    }
    await redis.set(`${this.key}:total`, count);
    await redis.del(`${this.key}:seeding`);
    await this.keep();
    return count;
  }

  /** Up to `count` items for this worker: first those a dead worker left, then new ones (waiting up to `waitMs`). */
  async next(count: number, waitMs = 500): Promise<QueuedItem[]> {
    const { redis } = this;
    const stream = `${this.key}:items`;
    const [, claimed] = (await redis.xautoclaim(stream, GROUP, this.consumer, this.leaseMs, '0-0', 'COUNT', count)) as [
      string,
      [string, string[]][],
    ];
    const items = claimed.filter(([, fields]) => fields).map(itemOf);
    if (items.length >= count) return items;
    const read = (await redis.xreadgroup(
      'GROUP',
      GROUP,
      this.consumer,
      'COUNT',
      count - items.length,
      'BLOCK',
      waitMs,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    return [...items, ...(read?.[0]?.[1] ?? []).map(itemOf)];
  }

  /** Keeps this worker's leases on `items`: another worker takes them only once they go unrenewed. */
  async renew(items: QueuedItem[]): Promise<void> {
    if (Date.now() - this.keptAt > 60_000) await this.keep();
    if (!items.length) return;
    await this.redis.xclaim(`${this.key}:items`, GROUP, this.consumer, 0, ...items.map((i) => i.id), 'JUSTID');
  }

  /** An earlier record of the input, by whichever worker made it. */
  async recorded(input: string): Promise<ItemRecord | undefined> {
    const text = await this.redis.hget(`${this.key}:records`, input);
    return text ? (JSON.parse(text) as ItemRecord) : undefined;
  }

  /** Records the input's result: true for exactly one worker, the one whose output stands. */
  async commit(record: ItemRecord): Promise<boolean> {
    const committed = (await this.redis.hsetnx(`${this.key}:records`, record.input, JSON.stringify(record))) === 1;
    // The records hash is born with the job's first record: it gets its time to live then.
    if (committed && !this.committedAny) {
      this.committedAny = true;
      // The record stands whatever happens here; the next renewal tries again.
      await this.keep().catch(() => (this.keptAt = 0));
    }
    return committed;
  }

  /**
   * Puts every failed item back on the queue, as a run that starts again
   * retries its failures: each record is taken back and its item queued
   * again in one step, so that of several processes joining at once only
   * one queues it, and none can take the record without queueing the item.
   * Returns how many went back.
   */
  async requeueFailed(): Promise<number> {
    const records = await this.redis.hgetall(`${this.key}:records`);
    let count = 0;
    for (const [input, text] of Object.entries(records)) {
      if ((JSON.parse(text) as ItemRecord).status !== 'failed') continue;
      count += Number(await this.redis.eval(REQUEUE, 2, `${this.key}:records`, `${this.key}:items`, input, text));
    }
    return count;
  }

  /** Forgets a record whose output is gone, so that the item is asked again. */
  async forget(input: string): Promise<void> {
    await this.redis.hdel(`${this.key}:records`, input);
  }

  async ack(item: QueuedItem): Promise<void> {
    await this.redis.xack(`${this.key}:items`, GROUP, item.id);
  }

  /** Every record of the job so far, from every worker. */
  async records(): Promise<ItemRecord[]> {
    const all = await this.redis.hvals(`${this.key}:records`);
    return all.map((text) => JSON.parse(text) as ItemRecord);
  }

  /** How many of the job's items have a record, by any worker. */
  async recordedCount(): Promise<number> {
    return this.redis.hlen(`${this.key}:records`);
  }

  /** Whether every queued item has a record. */
  async finished(total: number): Promise<boolean> {
    return (await this.recordedCount()) >= total;
  }
}

function itemOf([id, fields]: [string, string[]]): QueuedItem {
  return { id, input: fields[fields.indexOf('input') + 1] ?? '' };
}
