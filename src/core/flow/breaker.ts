import { CancelledError, ConfigError, HttpError, type FlowgateError } from '../errors';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  failureThreshold: number;
  /** How long it stays open before one probe may pass. @default 30_000 */
  cooldownMs: number;
}

export const DEFAULT_BREAKER: Readonly<BreakerOptions> = Object.freeze({ failureThreshold: 5, cooldownMs: 30_000 });

/**
 * Stops sending to an endpoint that keeps failing, so callers fail over at
 * once instead of each waiting out its own timeouts. After the cool-down
 * one probe goes through; its outcome closes or re-opens the breaker.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probe = false;
  /** Numbers the probes, so that a call lets go only of the probe it holds. */
  private probes = 0;

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {}

  /** Whether this breaker's probe is on its way. */
  get probing(): boolean {
    return this.probe;
  }

  /** The number of the probe on its way, if one is. */
  get probeNumber(): number | undefined {
    return this.probe ? this.probes : undefined;
  }

  state(now: number): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return now - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a request may go now; in half-open, only the first caller gets through, as the probe. */
  tryPass(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probe) return false;
    this.probe = true;
    this.probes++;
    return true;
  }

  /** When the breaker will next let a probe through (epoch ms), if it is open. */
  reopensAt(): number | undefined {
    return this.openedAt === undefined ? undefined : this.openedAt + this.options.cooldownMs;
  }

  /** Another process's breaker for the same endpoint opened: this one is open until `until` too. */
  adoptOpen(until: number): void {
    const openedAt = until - this.options.cooldownMs;
    if (this.openedAt !== undefined && this.openedAt >= openedAt) return;
    this.openedAt = openedAt;
    this.probe = false;
  }

  /**
   * Probe `number` went without an answer either way (cancelled, or its
   * caller stopped reading): the next call probes. False when that probe is
   * no longer the one on its way (it was superseded), which is then left alone.
   */
  abandonProbe(number: number): boolean {
    if (this.probeNumber !== number) return false;
    this.probe = false;
    return true;
  }

  onSuccess(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probe = false;
  }

  /** Counts only failures that say the endpoint is unwell, not that the request was wrong. */
  onFailure(error: FlowgateError, now: number): void {
    if (!isHealthFailure(error)) {
      this.probe = false;
      return;
    }
    this.failures++;
    if (this.probe || this.failures >= this.options.failureThreshold) this.openedAt = now;
    this.probe = false;
  }
}

function isHealthFailure(error: FlowgateError): boolean {
  if (error instanceof CancelledError || error instanceof ConfigError) return false;
  if (error instanceof HttpError) return error.status !== undefined && error.status >= 500;
  return error.code !== 'FLOWGATE_PROVIDER' || error.retryable;
}
