import { ConfigError, TimeoutError, type ErrorSite, type TimeoutPhase } from '../errors';

/**
 * Four layered limits, because one number cannot serve both a cloud API and a
 * local model: a model loading from disk may need minutes to its first token,
 * while a stream that has started and then stalls should fail in seconds.
 * 0 turns a limit off.
 */
export interface Timeouts {
  /** TCP (and TLS) connection set-up. @default 10_000 */
  connectMs: number;
  /** From the request being sent until the first content delta. @default 120_000 */
  firstTokenMs: number;
  /** Longest gap between two content deltas; keep-alive comments and pings do not reset it. @default 30_000 */
  idleMs: number;
  /** The whole call, from start to the last byte. @default 600_000 */
  totalMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 10_000,
  firstTokenMs: 120_000,
  idleMs: 30_000,
  totalMs: 600_000,
});

/** Node's timers overflow past 2^31-1 ms and then fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export function resolveTimeouts(overrides: Partial<Timeouts> = {}): Timeouts {
  const merged = { ...DEFAULT_TIMEOUTS };
  for (const key of Object.keys(DEFAULT_TIMEOUTS) as (keyof Timeouts)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
      throw new ConfigError(
        `Timeout ${key} must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS} (0 = off); got ${value}.`,
      );
    }
    merged[key] = value;
  }
  return merged;
}

/**
 * The timers of one attempt. Each expiry calls `onTimeout` once with a
 * TimeoutError naming its phase; the caller aborts the request with it.
 */
export class PhaseTimers {
  private readonly timers = new Map<TimeoutPhase, NodeJS.Timeout>();
  private sawContent = false;
  private fired = false;
  private lastContentAt = 0;

  constructor(
    private readonly limits: Timeouts,
    private readonly site: ErrorSite,
    private readonly onTimeout: (error: TimeoutError) => void,
  ) {}

  /** The attempt has started. The total limit belongs to the whole call, so it runs to the call's deadline. */
  start(deadlineAt?: number): void {
    const left = deadlineAt === undefined ? this.limits.totalMs : Math.max(0, deadlineAt - Date.now());
    this.arm('total', left, () => this.fire('total', this.limits.totalMs));
  }

  /** The request has been written to the socket. */
  requestSent(): void {
    if (!this.sawContent)
      this.arm('firstToken', this.limits.firstTokenMs, () => this.fire('firstToken', this.limits.firstTokenMs));
  }

  /**
   * A content delta arrived: the first-token wait is over and the idle gap
   * restarts. This runs for every token, so it only notes the time; the idle
   * timer, when it goes off, re-arms itself for whatever is left of the gap.
   */
  contentArrived(): void {
    this.lastContentAt = performance.now();
    if (this.sawContent) return;
    this.sawContent = true;
    this.disarm('firstToken');
    this.armIdle(this.limits.idleMs);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private armIdle(ms: number): void {
    this.arm('idle', ms, () => {
      const quiet = performance.now() - this.lastContentAt;
      if (quiet >= this.limits.idleMs) this.fire('idle', this.limits.idleMs);
      else this.armIdle(this.limits.idleMs - quiet);
    });
  }

  private arm(phase: Exclude<TimeoutPhase, 'connect'>, ms: number, onExpiry: () => void): void {
    this.disarm(phase);
    if (this.limits[`${phase}Ms`] === 0 || this.fired) return;
    this.timers.set(phase, setTimeout(onExpiry, ms));
  }

  private disarm(phase: TimeoutPhase): void {
    const timer = this.timers.get(phase);
    if (timer) clearTimeout(timer);
    this.timers.delete(phase);
  }

  private fire(phase: TimeoutPhase, ms: number): void {
    this.fired = true;
    this.clear();
    this.onTimeout(new TimeoutError(phase, ms, { site: this.site }));
  }
}
