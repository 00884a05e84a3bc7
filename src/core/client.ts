import { runAttempt } from './attempt';
import { collect } from './completion';
import { endpointOrigin } from './endpoint';
import { PoolRegistry, type PoolStats } from './http/pools';
import { PROVIDERS } from './providers';
import { resolveTimeouts, type Timeouts } from './timeouts';
import type { ChatRequest, Completion, Endpoint, StreamEvent } from './types';

export interface CallOptions {
  endpoint: Endpoint;
  /** Aborting it stops the call in any phase and closes its socket. */
  signal?: AbortSignal;
  /** Per-call overrides of the client's timeouts. */
  timeouts?: Partial<Timeouts>;
}

export interface ClientOptions {
  timeouts?: Partial<Timeouts>;
  /** Connections per origin; requests beyond it wait in the pool. @default 64 */
  maxConnectionsPerOrigin?: number;
}

/**
 * The engine's front door. It owns the connection pools, so one client
 * should serve a whole session; `close()` releases every socket.
 */
export class LlmClient {
  private readonly pools: PoolRegistry;
  private readonly timeouts: Timeouts;

  constructor(options: ClientOptions = {}) {
    this.timeouts = resolveTimeouts(options.timeouts);
    this.pools = new PoolRegistry(options.maxConnectionsPerOrigin);
  }

  /** Streams one answer as typed events. Stopping the iteration early cancels the request. */
  stream(request: ChatRequest, options: CallOptions): AsyncGenerator<StreamEvent> {
    return this.attempt(request, options, true);
  }

  /** One whole answer. `stream: true` streams underneath (so the idle timeout applies); the default asks for a single JSON response. */
  complete(request: ChatRequest, options: CallOptions & { stream?: boolean }): Promise<Completion> {
    return collect(this.attempt(request, options, options.stream ?? false));
  }

  /** Open connections and requests on the wire, across all endpoints. */
  connectionStats(): PoolStats {
    return this.pools.stats();
  }

  async close(): Promise<void> {
    await this.pools.close();
  }

  private async *attempt(request: ChatRequest, options: CallOptions, stream: boolean): AsyncGenerator<StreamEvent> {
    const origin = endpointOrigin(options.endpoint);
    const timeouts = resolveTimeouts({ ...this.timeouts, ...options.timeouts });
    const provider = PROVIDERS[options.endpoint.provider];
    yield* runAttempt({ provider, endpoint: options.endpoint, origin, request, stream, timeouts, pools: this.pools, signal: options.signal });
  }
}
