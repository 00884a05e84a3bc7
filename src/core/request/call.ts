import { onAbort } from './abort';
import { runAttempt } from './attempt';
import { formatDuration } from '../duration';
import {
  CancelledError,
  EndpointUnavailableError,
  type FlowgateError,
  HttpError,
  TimeoutError,
  describeSite,
} from '../errors';
import type { EndpointState } from '../flow/endpoint-state';
import type { SharedGate } from '../shared/shared-state';
import type { CallRecord, CallStats } from '../metrics/metrics';
import { describeRetry, retryDelayMs, shouldRetry, type RetryOptions } from '../flow/retry';
import type { Lease, Priority } from '../flow/scheduler';
import type { PoolRegistry } from '../http/pools';
import { PROVIDERS } from '../providers';
import type { Timeouts } from './timeouts';
import { reservationFor } from '../tokens/estimate';
import { isOutput, type ChatRequest, type Endpoint, type StreamEvent } from '../types';

export interface CallPlan {
  request: ChatRequest;
  /** The endpoint first, then its fallbacks in order. */
  chain: { endpoint: Endpoint; state: EndpointState }[];
  stream: boolean;
  priority: Priority;
  timeouts: Timeouts;
  retry: RetryOptions;
  signal?: AbortSignal;
  pools: PoolRegistry;
  overall: CallStats;
  /** Called once the call is over, however it ended (also when the caller stopped early). */
  onEnd?: () => void;
}

/**
 * One call: failover along the chain, retries on each endpoint, admission
 * before every attempt. Nothing is repeated once text has reached the
 * caller, so no text is ever shown twice. One generator from admission to
 * events, so that a network chunk passes one hand-off here, not one per layer.
 */
export async function* runCall(plan: CallPlan): AsyncGenerator<StreamEvent[]> {
  const progress = new CallProgress(Date.now());
  const deadlineAt = plan.timeouts.totalMs === 0 ? undefined : progress.startedAt + plan.timeouts.totalMs;
  const reservation = reservationFor(plan.request);
  plan.overall.requests++;
  try {
    for (let index = 0; index < plan.chain.length; index++) {
      const { endpoint, state } = plan.chain[index]!;
      const next = plan.chain[index + 1];
      state.stats.requests++;
      try {
        for (let attempt = 1; ; attempt++) {
          if (attempt === 1 && state.scheduler.sharedGate) await askTeamProbe(state, state.scheduler.sharedGate);
          checkBreaker(state, attempt);
          // This attempt is the breaker's probe: let it go again if the attempt ends without a word on health.
          const probe = attempt === 1 ? state.breaker.probeNumber : undefined;
          const lease = await state.scheduler
            .acquire({
              priority: plan.priority,
              tokens: reservation,
              signal: plan.signal,
              deadlineAt,
              onDeadline: () => new TimeoutError('total', plan.timeouts.totalMs, { site: state.site }),
              onCancel: () => new CancelledError({ site: state.site }),
            })
            .catch((error: unknown) => {
              if (probe !== undefined) abandonProbe(state, probe);
              throw error;
            });
          progress.startAttempt(lease.queuedMs);
          let retry: { failure: FlowgateError; delayMs: number };
          try {
            const events = runAttempt({
              provider: PROVIDERS[endpoint.provider],
              endpoint,
              origin: state.origin,
              request: plan.request,
              stream: plan.stream,
              timeouts: plan.timeouts,
              pools: plan.pools,
              signal: plan.signal,
              deadlineAt,
              scrubber: state.scrubber,
            });
            for await (const batch of events) {
              progress.observe(batch);
              const first = batch[0];
              if (first?.type === 'response') {
                state.learnFrom(first.headers, lease);
                // The endpoint answered: the other processes need not wait for the whole stream to send again.
                if (probe !== undefined) state.scheduler.sharedGate?.probeFinished(true);
              }
              yield batch;
            }
            lease.release(progress.attemptTokens());
            state.breaker.onSuccess();
            break;
          } catch (error) {
            lease.release(progress.attemptTokens());
            const failure = error as FlowgateError;
            retry = {
              failure,
              delayMs: retryDelay(plan, state, failure, attempt, lease, progress, deadlineAt, !!next),
            };
          } finally {
            // The caller stopped early: the slot is free again (a no-op once released).
            lease.release();
            if (probe !== undefined) abandonProbe(state, probe);
          }
          state.stats.retries++;
          plan.overall.retries++;
          const { failure, delayMs } = retry;
          yield [
            {
              type: 'retry',
              attempt: attempt + 1,
              maxAttempts: plan.retry.maxAttempts,
              delayMs,
              message: describeRetry(failure, delayMs, attempt + 1, plan.retry.maxAttempts),
              error: failure,
            },
          ];
          await sleep(delayMs, plan.signal, () => new CancelledError({ site: state.site }));
        }
        finish(plan, state, progress, undefined);
        return;
      } catch (error) {
        const failure = error as FlowgateError;
        if (!next || progress.delivered || !canFailOver(failure)) {
          finish(plan, state, progress, failure);
          failure.partialText = progress.text();
          throw failure;
        }
        state.stats.record(progress.record(failure), Date.now());
        yield [
          {
            type: 'failover',
            from: state.key,
            to: next.state.key,
            message: `${failure.message} Trying ${describeSite(next.state.site)} instead.`,
            error: failure,
          },
        ];
      }
    }
  } finally {
    plan.onEnd?.();
  }
}

/**
 * After a failed attempt: how long to wait before the next one, or the
 * failure thrown when there is to be no next one on this endpoint.
 */
function retryDelay(
  plan: CallPlan,
  state: EndpointState,
  failure: FlowgateError,
  attempt: number,
  lease: Lease,
  progress: CallProgress,
  deadlineAt: number | undefined,
  hasFallback: boolean,
): number {
  const delayMs = noteFailure(plan, state, failure, attempt, lease);
  const now = Date.now();
  if (!shouldRetry(failure, progress.delivered) || attempt >= plan.retry.maxAttempts) throw failure;
  // A rate-limited endpoint with a fallback behind it: go there now rather than wait out the pause.
  if (failure.status === 429 && hasFallback) throw failure;
  if (deadlineAt !== undefined && now + delayMs >= deadlineAt) throw tooLongToWait(failure, delayMs, deadlineAt - now);
  return delayMs;
}

/** Learns from a failure and returns how long a retry would wait. A 429 pauses the whole endpoint for that long. */
function noteFailure(
  plan: CallPlan,
  state: EndpointState,
  failure: FlowgateError,
  attempt: number,
  lease: Lease,
): number {
  const now = Date.now();
  if (failure instanceof HttpError) state.learnFrom(failure.headers, lease);
  const probed = state.breaker.probing;
  state.breaker.onFailure(failure, now);
  // Open here means open for every process sharing the endpoint's budget.
  const reopensAt = state.breaker.state(now) === 'open' ? state.breaker.reopensAt() : undefined;
  if (reopensAt) state.scheduler.sharedGate?.breakerOpened(reopensAt);
  if (probed) state.scheduler.sharedGate?.probeFinished(false);
  const delayMs = retryDelayMs(attempt, failure, plan.retry, now);
  if (failure.status === 429) {
    state.stats.rateLimited++;
    plan.overall.rateLimited++;
    state.scheduler.drain();
    if (failure.retryable) state.scheduler.pauseUntil(now + delayMs);
  }
  return delayMs;
}

/**
 * A breaker that cooled down lets one probe through for every process
 * sharing the endpoint, not one per process: the first to ask sends it; the
 * others hold off while it is on its way, close when it found the endpoint
 * well, and stay open when it failed.
 */
async function askTeamProbe(state: EndpointState, gate: SharedGate): Promise<void> {
  const now = Date.now();
  const elsewhere = gate.breakerUntil();
  if (elsewhere && elsewhere > now) state.breaker.adoptOpen(elsewhere);
  if (state.breaker.state(now) !== 'half-open' || state.breaker.probing) return;
  const claim = await gate.claimProbe();
  if (claim.verdict === 'healthy') state.breaker.onSuccess();
  else if (claim.verdict === 'open') state.breaker.adoptOpen(Date.now() + claim.ms);
  else if (claim.verdict === 'wait') throw new EndpointUnavailableError(Date.now() + claim.ms, { site: state.site });
}

/** A probe that ended without a word on the endpoint's health (cancelled, stopped early): the next call may probe. */
function abandonProbe(state: EndpointState, probe: number): void {
  if (state.breaker.abandonProbe(probe)) state.scheduler.sharedGate?.probeFinished(false);
}

function checkBreaker(state: EndpointState, attempt: number): void {
  const now = Date.now();
  const elsewhere = state.scheduler.sharedGate?.breakerUntil();
  if (elsewhere && elsewhere > now) state.breaker.adoptOpen(elsewhere);
  // The first attempt may be the half-open probe; later ones only go while the breaker is not open.
  const passes = attempt === 1 ? state.breaker.tryPass(now) : state.breaker.state(now) !== 'open';
  if (!passes) throw new EndpointUnavailableError(state.breaker.reopensAt() ?? now, { site: state.site });
}

/** An endpoint that is down, overloaded or out of quota hands over; a request the provider rejects as wrong does not. */
function canFailOver(error: FlowgateError): boolean {
  if (error instanceof CancelledError || error.code === 'FLOWGATE_CONFIG') return false;
  if (error instanceof EndpointUnavailableError) return true;
  if (error instanceof HttpError) return error.status === 429 || (error.status ?? 0) >= 500;
  return error.retryable || error.code === 'FLOWGATE_NETWORK';
}

function finish(
  plan: CallPlan,
  state: EndpointState,
  progress: CallProgress,
  failure: FlowgateError | undefined,
): void {
  const record = progress.record(failure);
  const now = Date.now();
  state.stats.record(record, now);
  plan.overall.record(record, now);
}

/** A wait the server asked for that outlasts the call: say so, rather than only "rate limited". */
function tooLongToWait(failure: FlowgateError, delayMs: number, leftMs: number): FlowgateError {
  failure.message += ` Flowgate did not wait ${formatDuration(delayMs)}: that is past this request's total timeout (${formatDuration(Math.max(0, leftMs))} left). Try again later, or raise the total timeout.`;
  return failure;
}

function sleep(ms: number, signal: AbortSignal | undefined, onCancel: () => Error): Promise<void> {
  if (signal?.aborted) return Promise.reject(onCancel());
  return new Promise((resolve, reject) => {
    const stopListening = onAbort(signal, () => {
      clearTimeout(timer);
      reject(onCancel());
    });
    const timer = setTimeout(() => {
      stopListening();
      resolve();
    }, ms);
  });
}

/** What the caller has received so far, across attempts, for metrics and for partial text on failure. */
class CallProgress {
  delivered = false;
  private readonly parts: string[] = [];
  private firstOutputAt: number | undefined;
  private firstTextAt: number | undefined;
  private lastOutputAt: number | undefined;
  private queuedMs = 0;
  private inputTokens: number | undefined;
  private outputTokens: number | undefined;

  constructor(readonly startedAt: number) {}

  startAttempt(queuedMs: number): void {
    this.queuedMs += queuedMs;
    this.inputTokens = undefined;
    this.outputTokens = undefined;
  }

  /** One network chunk's events: they arrived together, so one clock reading serves them all. */
  observe(batch: StreamEvent[]): void {
    let now: number | undefined;
    for (const event of batch) {
      if (isOutput(event)) {
        // Any output reached the caller: repeating the request would show it twice.
        now ??= Date.now();
        this.delivered = true;
        this.firstOutputAt ??= now;
        this.lastOutputAt = now;
      }
      if (event.type === 'text') {
        this.parts.push(event.text);
        this.firstTextAt ??= now;
      } else if (event.type === 'usage') {
        this.inputTokens = event.inputTokens ?? this.inputTokens;
        this.outputTokens = event.outputTokens ?? this.outputTokens;
      }
    }
  }

  /** Real tokens of the current attempt, when the provider reported both halves. */
  attemptTokens(): number | undefined {
    return this.inputTokens !== undefined && this.outputTokens !== undefined
      ? this.inputTokens + this.outputTokens
      : undefined;
  }

  text(): string {
    return this.parts.join('');
  }

  record(failure: FlowgateError | undefined): CallRecord {
    return {
      ok: failure === undefined,
      errorCode: failure?.code,
      latencyMs: Date.now() - this.startedAt,
      ttftMs: this.firstTextAt === undefined ? undefined : this.firstTextAt - this.startedAt,
      firstOutputMs: this.firstOutputAt === undefined ? undefined : this.firstOutputAt - this.startedAt,
      queueWaitMs: this.queuedMs,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      generationMs:
        this.firstOutputAt !== undefined && this.lastOutputAt !== undefined
          ? this.lastOutputAt - this.firstOutputAt
          : undefined,
    };
  }
}
