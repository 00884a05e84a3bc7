import { rootCertificates } from 'node:tls';
import type { ResolvedProxy } from './proxy';
import { EnvHttpProxyAgent, Pool, type Dispatcher } from './undici-pool';

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
 * pool), or, behind a proxy, one proxy agent that keeps its own pools.
 * undici's own headersTimeout and bodyTimeout default to 300 s, which kills
 * slow local models; they are off here because the engine's layered timeouts
 * own those phases.
 *
 * The connection cap matters beyond politeness: undici 7 opens a fresh
 * connection after an in-flight request is aborted (nodejs/undici#5845), and
 * without a cap a burst of cancellations grows the pool without bound.
 */
export class PoolRegistry {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(
    private readonly maxConnections = DEFAULT_MAX_CONNECTIONS,
    private readonly proxy?: ResolvedProxy,
    /** Extra CA certificates (PEM) to trust besides Node's own. */
    private readonly ca?: string,
  ) {}

  get(origin: string, connectMs: number, http2 = false): Dispatcher {
    const key = `${this.proxy ? 'proxy' : origin} ${connectMs} ${http2 ? 'h2' : 'h1'}`;
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      dispatcher = this.proxy ? this.proxyAgent(connectMs, this.proxy, http2) : this.pool(origin, connectMs, http2);
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  private tlsOptions(): { ca?: string[] } {
    // A ca option replaces Node's trust store, so the extra CA joins the usual roots.
    return this.ca ? { ca: [...rootCertificates, this.ca] } : {};
  }

  /** Connections and requests across all direct pools, as undici counts them. */
  stats(): PoolStats {
    const total: PoolStats = { connected: 0, free: 0, pending: 0, queued: 0, running: 0 };
    for (const dispatcher of this.dispatchers.values()) {
      if (!(dispatcher instanceof Pool)) continue;
      const { connected, free, pending, queued, running } = dispatcher.stats;
      total.connected += connected;
      total.free += free;
      total.pending += pending;
      total.queued += queued;
      total.running += running;
    }
    return total;
  }

  async close(): Promise<void> {
    const dispatchers = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.destroy()));
  }

  private pool(origin: string, connectMs: number, http2: boolean): Dispatcher {
    return new Pool(origin, {
      // HTTP/2 multiplexes: one connection carries up to 100 streams. (Against a
      // server that only speaks HTTP/1.1 this would serialise requests; http2 is opt-in.)
      connections: http2 ? 1 : this.maxConnections,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 4_000,
      allowH2: http2,
      connect: { timeout: connectMs, ...this.tlsOptions() },
    });
  }

  private proxyAgent(connectMs: number, proxy: ResolvedProxy, http2: boolean): Dispatcher {
    const tls = { rejectUnauthorized: proxy.strictSSL, ...this.tlsOptions() };
    return new EnvHttpProxyAgent({
      httpProxy: proxy.httpProxy ?? '',
      httpsProxy: proxy.httpsProxy ?? '',
      noProxy: proxy.noProxy ?? '',
      connections: this.maxConnections,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 4_000,
      allowH2: http2,
      connect: { timeout: connectMs, ...tls },
      requestTls: tls,
      proxyTls: tls,
    });
  }
}
