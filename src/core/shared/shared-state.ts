/**
 * State several Flowgate processes share (VS Code windows, teammates, CI
 * jobs on one API key): today the per-endpoint request and token budgets
 * and the pause after a 429. Without a shared store everything stays in the
 * process, as before; the scheduler asks a SharedGate only when one is
 * attached.
 */
import { createHash } from 'node:crypto';
import { endpointOrigin } from '../endpoint';
import type { Completion, Endpoint } from '../types';

/** One endpoint's budgets as all processes see them. */
export interface SharedGate {
  /**
   * Milliseconds to wait before a request reserving `tokens` may go; 0 means
   * the budgets were taken for it. Never throws, and never takes longer than
   * the store's timeout: when the store is slow or down, a local share of
   * the rate answers instead.
   */
  take(limits: SharedLimits, tokens: number): Promise<number>;
  /** Gives back tokens a request reserved and did not use. */
  refund(limits: SharedLimits, tokens: number): void;
  /** A 429: every process holds this endpoint's requests until `until` (epoch ms). */
  pause(until: number): void;
  /** Limits the provider's headers told: every process paces to them from now on. */
  learn(limits: SharedLimits): void;
  /** This process's circuit breaker opened: every process holds off until `until` (epoch ms). */
  breakerOpened(until: number): void;
  /** Until when a breaker some process opened holds this endpoint off (epoch ms), as Redis last said. */
  breakerUntil(): number | undefined;
  /**
   * This process's breaker has cooled down: one probe goes for every
   * process. Says whether this process sends it, or what another's probe is
   * doing or found. Never throws; with the store out of reach, this process
   * probes for itself.
   */
  claimProbe(): Promise<ProbeClaim>;
  /** The probe this process claimed came back: well (every process closes its breaker) or not (it may be claimed again). */
  probeFinished(healthy: boolean): void;
  /** Whether the budgets are shared right now, with how many processes. */
  status(): SharedStatus;
}

/** What the team says when a breaker that cooled down would let a probe through. */
export type ProbeClaim =
  /** This process sends the one probe for every process. */
  | { verdict: 'probe' }
  /** Another process's probe is on its way: hold off for up to `ms`. */
  | { verdict: 'wait'; ms: number }
  /** Another process's probe found the endpoint well: close the breaker. */
  | { verdict: 'healthy' }
  /** Another process's probe failed and opened the breaker again, for `ms`. */
  | { verdict: 'open'; ms: number };

export interface SharedLimits {
  rpm?: number;
  tpm?: number;
}

/** What the status bar and Show Metrics say about sharing. */
export interface SharedStatus {
  /** Where state lives: the Redis URL without its password. */
  where: string;
  /** False while Redis cannot be reached and local shares stand in. */
  connected: boolean;
  /** Processes that used this endpoint's shared budget in the last 15 s, this one included. */
  participants: number;
  /** Why sharing is degraded, when it is. */
  problem?: string;
}

export interface SharedState {
  gateFor(endpoint: Endpoint): SharedGate;
  /** Answers shared with other processes, behind the in-process cache. */
  readonly cache: SharedCache;
  close(): Promise<void>;
}

/**
 * A second level behind each process's own response cache, and a lock so
 * that of several processes asking the same question at once only one asks
 * the provider. Like the gate, it never throws and never waits on a slow or
 * absent store for long: it then simply has nothing.
 */
export interface SharedCache {
  get(key: string): Promise<Completion | undefined>;
  set(key: string, completion: Completion): Promise<void>;
  /** Takes the right to ask for `key`; undefined when another process holds it. The lock expires if its holder dies. */
  lead(key: string): Promise<SharedLock | undefined>;
  /** The answer another process is getting for `key`, once stored; undefined if its lock goes without one. */
  follow(key: string, signal?: AbortSignal): Promise<Completion | undefined>;
}

export interface SharedLock {
  release(): Promise<void>;
}

/**
 * The name an endpoint's shared budget goes by: its origin, its model, and a
 * fingerprint of its key (never the key itself), so that processes using the
 * same key on the same model meet, and different keys never do.
 */
export function sharedScope(endpoint: Endpoint): string {
  const origin = endpointOrigin(endpoint);
  const key = endpoint.apiKey ? createHash('sha256').update(endpoint.apiKey).digest('hex').slice(0, 16) : 'nokey';
  return createHash('sha256').update(`${origin}\n${endpoint.model}\n${key}`).digest('hex').slice(0, 24);
}
