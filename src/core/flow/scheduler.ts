import { onAbort } from '../request/abort';
import type { SharedGate } from '../shared/shared-state';
import { type QuotaModel } from './quota';
import type { RateLimitInfo } from './rate-limit-headers';
import { TokenBucket } from './token-bucket';

/** Interactive chat goes ahead of batch items. */
export type Priority = 'interactive' | 'batch';
const PRIORITIES: Priority[] = ['interactive', 'batch'];

export interface EndpointLimits {
  /** Requests on the wire at once. */
  concurrency: number;
  /** Requests per minute; undefined learns it from the provider's headers. */
  rpm?: number;
  /** Tokens (prompt + max output) per minute; undefined learns it from headers. */
  tpm?: number;
}

export interface AdmissionRequest {
  priority: Priority;
  /** Estimated prompt tokens plus max output tokens: reserved from the TPM budget. */
  tokens: number;
  signal?: AbortSignal;
  /** Epoch ms after which waiting in the queue fails with `onDeadline()`. */
  deadlineAt?: number;
  onDeadline: () => Error;
  onCancel: () => Error;
}

/** A granted slot. Release it exactly once, with the real token count when known. */
export interface Lease {
  readonly queuedMs: number;
  /** The admission's place in order, so that rate-limit headers can be matched to what was sent after it. */
  readonly sequence: number;
  readonly tokensBefore: number;
  release(actualTokens?: number): void;
}

interface Ticket extends AdmissionRequest {
  enqueuedAt: number;
  resolve: (lease: Lease) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

export interface QueueStats {
  inFlight: number;
  queued: number;
  oldestWaitMs: number;
  pausedUntil?: number;
}

/**
 * Admission for one endpoint: a priority queue in front of a concurrency cap,
 * request and token budgets (configured and learnt, the tighter wins), the
 * provider's own word on what is left, and a pause after a 429.
 *
 * The concurrency slot is counted here rather than by p-limit because it is
 * granted together with the budgets and in priority order, which a FIFO
 * limiter cannot express.
 */
export class EndpointScheduler {
  private readonly queues: Record<Priority, Ticket[]> = { interactive: [], batch: [] };
  private inFlight = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private rpm: TokenBucket | undefined;
  private tpm: TokenBucket | undefined;
  private learnedRpm: TokenBucket | undefined;
  private learnedTpm: TokenBucket | undefined;
  private admitted = 0;
  private admittedTokens = 0;
  private newestLearnt = 0;
  /** The budgets other processes share (Redis), when there are any; asked after the local ones say go. */
  private shared: SharedGate | undefined;
  /** A shared take is on its way: one at a time, so the queue's order holds. */
  private asking = false;

  constructor(
    private limits: EndpointLimits,
    readonly quota: QuotaModel,
    private readonly clock: () => number = Date.now,
    private readonly onChange: () => void = () => {},
  ) {
    this.configure(limits);
  }

  configure(limits: EndpointLimits): void {
    const now = this.clock();
    this.limits = limits;
    this.rpm = resized(this.rpm, limits.rpm, now);
    this.tpm = resized(this.tpm, limits.tpm, now);
    this.pump();
  }

  /** Shares this endpoint's budgets with other processes from now on (undefined: this process alone again). */
  share(gate: SharedGate | undefined): void {
    this.shared = gate;
    this.pump();
  }

  /** The budgets this endpoint shares, if any. */
  get sharedGate(): SharedGate | undefined {
    return this.shared;
  }

  acquire(request: AdmissionRequest): Promise<Lease> {
    if (request.signal?.aborted) return Promise.reject(request.onCancel());
    // The common case: nothing waits and a slot and the budgets are free. Granted at once, with no
    // ticket, deadline timer or abort listener to set up and tear down. (Shared budgets go by the queue.)
    if (!this.shared && !this.head() && this.inFlight < this.limits.concurrency) {
      const now = this.clock();
      if (this.budgetWaitMs(request.tokens, now) === 0) return Promise.resolve(this.grant(request.tokens, now, now));
    }
    return new Promise((resolve, reject) => {
      const ticket: Ticket = { ...request, enqueuedAt: this.clock(), resolve, reject, cleanup: () => {} };
      this.watch(ticket);
      this.queues[request.priority].push(ticket);
      this.pump();
      this.onChange();
    });
  }

  /** Holds every request to this endpoint until `until` (epoch ms): a 429 speaks for the whole endpoint. */
  pauseUntil(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.shared?.pause(until);
    this.pump();
  }

  /**
   * Tells the scheduler what the provider said in its rate-limit headers, on
   * the response to `lease`. Headers older than ones already applied are
   * ignored. The provider's count of what is left caps the request buckets,
   * since by the time headers arrive the server's budget may be spent.
   */
  learn(info: RateLimitInfo, lease: Lease): void {
    if (lease.sequence < this.newestLearnt) return;
    this.newestLearnt = lease.sequence;
    const now = this.clock();
    this.quota.update(info, {
      requests: this.admitted - lease.sequence,
      tokens: this.admittedTokens - lease.tokensBefore - 0,
    });
    const left = this.quota.snapshot(now);
    this.learnedRpm = learnedBucket(this.learnedRpm, this.quota.learnedRpm, this.limits.rpm, now);
    this.learnedTpm = learnedBucket(this.learnedTpm, this.quota.learnedTpm, this.limits.tpm, now);
    this.shared?.learn({ rpm: this.quota.learnedRpm, tpm: this.quota.learnedTpm });
    if (left.requests.remaining !== undefined)
      for (const bucket of [this.rpm, this.learnedRpm]) bucket?.lowerTo(left.requests.remaining, now);
    if (left.tokens.remaining !== undefined)
      for (const bucket of [this.tpm, this.learnedTpm]) bucket?.lowerTo(left.tokens.remaining, now);
    this.pump();
  }

  /** A 429 says the server's budget is spent now, whatever our buckets think. */
  drain(): void {
    const now = this.clock();
    for (const bucket of [this.rpm, this.learnedRpm]) bucket?.lowerTo(0, now);
  }

  stats(): QueueStats {
    const now = this.clock();
    const waiting = PRIORITIES.flatMap((p) => this.queues[p]);
    const oldest = waiting.reduce((min, t) => Math.min(min, t.enqueuedAt), now);
    return {
      inFlight: this.inFlight,
      queued: waiting.length,
      oldestWaitMs: now - oldest,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : undefined,
    };
  }

  /** Fails everything still queued; used when the client closes. */
  close(error: () => Error): void {
    clearTimeout(this.timer);
    for (const priority of PRIORITIES) {
      for (const ticket of this.queues[priority].splice(0)) {
        ticket.cleanup();
        ticket.reject(error());
      }
    }
  }

  private watch(ticket: Ticket): void {
    const leave = (error: Error): void => {
      const queue = this.queues[ticket.priority];
      const index = queue.indexOf(ticket);
      if (index === -1) return;
      queue.splice(index, 1);
      ticket.cleanup();
      ticket.reject(error);
      this.onChange();
      this.pump();
    };
    const stopListening = onAbort(ticket.signal, () => leave(ticket.onCancel()));
    const deadline =
      ticket.deadlineAt === undefined
        ? undefined
        : setTimeout(() => leave(ticket.onDeadline()), Math.max(0, ticket.deadlineAt - this.clock()));
    ticket.cleanup = () => {
      stopListening();
      clearTimeout(deadline);
    };
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let head = this.head(); head; head = this.head()) {
      const now = this.clock();
      if (this.inFlight >= this.limits.concurrency) return; // a release pumps again
      const wait = this.budgetWaitMs(head.tokens, now);
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      if (this.shared) return this.askShared(this.shared, head);
      this.admit(head, now);
    }
  }

  /** Takes the head's budget from the shared store, then admits it (or waits as long as the store says). */
  private askShared(gate: SharedGate, head: Ticket): void {
    if (this.asking) return;
    this.asking = true;
    const limits = { rpm: this.limits.rpm, tpm: this.limits.tpm };
    void gate.take(limits, head.tokens).then((wait) => {
      this.asking = false;
      if (wait > 0) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      // The budget is taken: for the head if it is still there, else for whoever is first now.
      const first = this.head();
      if (first && this.inFlight < this.limits.concurrency) this.admit(first, this.clock());
      else gate.refund(limits, head.tokens);
      this.pump();
    });
  }

  private head(): Ticket | undefined {
    for (const priority of PRIORITIES) if (this.queues[priority].length) return this.queues[priority][0];
    return undefined;
  }

  private budgetWaitMs(tokens: number, now: number): number {
    return Math.max(
      this.pausedUntil - now,
      this.rpm?.waitMs(1, now) ?? 0,
      this.learnedRpm?.waitMs(1, now) ?? 0,
      this.tpm?.waitMs(tokens, now) ?? 0,
      this.learnedTpm?.waitMs(tokens, now) ?? 0,
      this.quota.waitMs(tokens, now),
    );
  }

  private admit(ticket: Ticket, now: number): void {
    this.queues[ticket.priority].shift();
    ticket.cleanup();
    ticket.resolve(this.grant(ticket.tokens, ticket.enqueuedAt, now));
  }

  /** Takes a slot and the budgets for one request. */
  private grant(tokens: number, enqueuedAt: number, now: number): Lease {
    this.inFlight++;
    this.rpm?.take(1, now);
    this.learnedRpm?.take(1, now);
    this.tpm?.take(tokens, now);
    this.learnedTpm?.take(tokens, now);
    this.quota.noteSent(tokens);
    this.admitted++;
    this.admittedTokens += tokens;
    const lease = this.lease(tokens, enqueuedAt, now);
    this.onChange();
    return lease;
  }

  private lease(tokens: number, enqueuedAt: number, admittedAt: number): Lease {
    let released = false;
    return {
      queuedMs: admittedAt - enqueuedAt,
      sequence: this.admitted,
      tokensBefore: this.admittedTokens,
      release: (actualTokens?: number) => {
        if (released) return;
        released = true;
        this.inFlight--;
        if (actualTokens !== undefined) {
          const now = this.clock();
          this.tpm?.refund(tokens - actualTokens, now);
          this.learnedTpm?.refund(tokens - actualTokens, now);
          this.shared?.refund({ tpm: this.limits.tpm }, tokens - actualTokens);
        }
        this.onChange();
        this.pump();
      },
    };
  }
}

function resized(bucket: TokenBucket | undefined, perMinute: number | undefined, now: number): TokenBucket | undefined {
  if (perMinute === undefined || perMinute <= 0) return undefined;
  if (!bucket) return TokenBucket.forRate(perMinute, now);
  if (bucket.rate !== perMinute) bucket.setRate(perMinute, now);
  return bucket;
}

/** A bucket for a limit the provider told us, when it is tighter than the configured one. */
function learnedBucket(
  bucket: TokenBucket | undefined,
  learnt: number | undefined,
  configured: number | undefined,
  now: number,
): TokenBucket | undefined {
  if (learnt === undefined || (configured !== undefined && configured <= learnt)) return undefined;
  return resized(bucket, learnt, now);
}
