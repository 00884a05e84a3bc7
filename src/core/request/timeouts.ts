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
 * The timers of one attempt, on one Node timer. Each expiry calls
 * `onTimeout` once with a TimeoutError naming its phase; the caller aborts
 * the request with it.
 *
 * The timer is first set for the shortest limit, which no phase can expire
 * before; when it goes off it fires the phase whose deadline passed, or sets
 * itself for the next deadline. Deadlines only move later as an answer
 * streams (each delta pushes the idle gap on), so a quick answer costs one
 * timer, set and cleared once, however many tokens it has.
 */
export class PhaseTimers {
  private timer: NodeJS.Timeout | undefined;
  /** When the timer goes off (performance.now() time); Infinity when unset. */
  private timerAt = Infinity;
  private totalAt = Infinity;
  private firstTokenAt = Infinity;
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
    const now = performance.now();
    const { totalMs, firstTokenMs, idleMs } = this.limits;
    if (totalMs > 0) this.totalAt = now + (deadlineAt === undefined ? totalMs : Math.max(0, deadlineAt - Date.now()));
    const soonest = Math.min(this.totalAt - now, firstTokenMs || Infinity, idleMs || Infinity);
    this.setFor(now + soonest, now);
  }

  /** The request has been written to the socket. */
  requestSent(): void {
    if (this.sawContent || this.limits.firstTokenMs === 0) return;
    this.firstTokenAt = performance.now() + this.limits.firstTokenMs;
    this.setIfSooner(this.firstTokenAt);
  }

  /**
   * A content delta arrived: the first-token wait is over and the idle gap
   * restarts. This runs for every chunk, so it only notes the time.
   */
  contentArrived(): void {
    this.lastContentAt = performance.now();
    if (this.sawContent) return;
    this.sawContent = true;
    this.firstTokenAt = Infinity;
    this.setIfSooner(this.idleAt());
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private idleAt(): number {
    return this.sawContent && this.limits.idleMs > 0 ? this.lastContentAt + this.limits.idleMs : Infinity;
  }

  private setIfSooner(at: number): void {
    if (at < this.timerAt) this.setFor(at, performance.now());
  }

  private setFor(at: number, now: number): void {
    this.clear();
    if (this.fired || at === Infinity) return;
    this.timerAt = at;
    this.timer = setTimeout(this.check, Math.max(0, Math.ceil(at - now)));
  }

  private readonly check = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    const idleAt = this.idleAt();
    const due = Math.min(this.totalAt, this.firstTokenAt, idleAt);
    if (now < due) return this.setFor(due, now);
    // The deadline that passed first names the phase (the total one on a tie).
    if (due === this.totalAt) this.fire('total', this.limits.totalMs);
    else if (due === this.firstTokenAt) this.fire('firstToken', this.limits.firstTokenMs);
    else this.fire('idle', this.limits.idleMs);
  };

  private fire(phase: TimeoutPhase, ms: number): void {
    this.fired = true;
    this.clear();
    this.onTimeout(new TimeoutError(phase, ms, { site: this.site }));
  }
}
