import { Pool, type PoolType } from './undici-pool';

export interface PoolStats {
  connected: number;
  free: number;
  pending: number;
  queued: number;
  running: number;
}

/** Connections one pool may open to an origin. @default 64 */
export const DEFAULT_MAX_CONNECTIONS = 64;

/**
 * One keep-alive pool per origin (and connect timeout, which undici fixes per
 * pool). undici's own headersTimeout and bodyTimeout default to 300 s, which
 * kills slow local models; they are off here because the engine's layered
 * timeouts own those phases.
 *
 * The connection cap matters beyond politeness: undici 7 opens a fresh
 * connection after an in-flight request is aborted (nodejs/undici#5845), and
 * without a cap a burst of cancellations grows the pool without bound.
 */
export class PoolRegistry {
  private readonly pools = new Map<string, PoolType>();

  constructor(private readonly maxConnections = DEFAULT_MAX_CONNECTIONS) {}

  get(origin: string, connectMs: number): PoolType {
    const key = `${origin} ${connectMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.maxConnections,
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 4_000,
        connect: { timeout: connectMs },
      } as PoolType.Options);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Connections and requests across all pools, as undici counts them. */
  stats(): PoolStats {
    const total: PoolStats = { connected: 0, free: 0, pending: 0, queued: 0, running: 0 };
    for (const pool of this.pools.values()) {
      const { connected, free, pending, queued, running } = pool.stats;
      total.connected += connected;
      total.free += free;
      total.pending += pending;
      total.queued += queued;
      total.running += running;
    }
    return total;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
}
