import * as vscode from 'vscode';
import {
  LlmClient,
  ResponseCache,
  endpointOrigin,
  redisWhere,
  type CacheUse,
  type Endpoint,
  type JobQueue,
} from '../../core';
import { endpointWithKey } from './keys';
import type { KeyStore } from './key-store';
import {
  activeEndpoint,
  chainOf,
  clientOptionsFrom,
  proxyKey,
  type EndpointSetting,
  type FlowgateSettings,
} from '../settings/settings-model';
import type { Settings } from '../settings/settings';
import type { SharedLink } from './shared-link';

/**
 * Owns the engine's client for the extension's lifetime. A settings change
 * applies at once: endpoints, timeouts and retries go with each call, and a
 * proxy change builds a new client (with new pools) while the old one
 * finishes what it has in flight. Nothing here runs at activation beyond
 * reading settings; the first socket opens with the first request.
 */
export class EngineHost implements vscode.Disposable {
  private current: { client: LlmClient; proxy: string; metrics: vscode.Disposable } | undefined;
  private readonly metricsChanged = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.metricsChanged];
  private readonly warnedMoves = new Set<string>();

  /** Metrics changed; fired at most about four times a second. */
  readonly onDidChangeMetrics = this.metricsChanged.event;

  /** Answers to deterministic (or, by setting, all) requests, in memory and under the extension's global storage. */
  readonly cache: ResponseCache;

  constructor(
    private readonly config: Settings,
    private readonly keys: KeyStore,
    private readonly log: vscode.LogOutputChannel,
    cacheDir: string,
    /** Where limits are shared with other windows and machines (flowgate.sharedState.redisUrl). */
    readonly shared: SharedLink,
  ) {
    this.cache = new ResponseCache({ dir: cacheDir });
    this.disposables.push(shared);
  }

  /** The current settings (read through the one settings reader). */
  get settings(): FlowgateSettings {
    return this.config.current;
  }

  get active(): EndpointSetting | undefined {
    return activeEndpoint(this.settings);
  }

  /** flowgate.cache.mode as the engine's per-call cache option. */
  get cacheUse(): CacheUse {
    const { mode } = this.settings.cache;
    return mode === 'off' ? 'bypass' : mode === 'always' ? 'use' : 'auto';
  }

  /** Whether a client exists yet; the first request creates it. */
  get hasClient(): boolean {
    return this.current !== undefined;
  }

  async selectEndpoint(id: string): Promise<void> {
    if (!this.settings.endpoints.some((e) => e.id === id)) return;
    await this.config.setActiveEndpoint(id);
  }

  get client(): LlmClient {
    const proxy = proxyKey(this.settings);
    if (this.current?.proxy !== proxy) this.rebuild(proxy);
    const { client } = this.current!;
    this.shared.follow(client, this.settings.sharedState.redisUrl);
    return client;
  }

  /** Where state is shared (flowgate.sharedState.redisUrl without its password); empty when it is not. */
  get sharedWhere(): string {
    const url = this.settings.sharedState.redisUrl;
    return url ? redisWhere(url) : '';
  }

  /** The shared batch queue `name` for the job `jobId`, on the configured Redis. */
  sharedQueue(name: string, jobId: string): Promise<JobQueue> {
    this.shared.follow(this.client, this.settings.sharedState.redisUrl);
    return this.shared.queue(name, jobId);
  }

  /** The endpoint with its key, when a key was stored for this very origin. */
  async endpoint(setting: EndpointSetting): Promise<Endpoint> {
    const { endpoint, movedFrom } = endpointWithKey(setting, await this.keys.get(setting.id));
    if (movedFrom) this.warnMovedKey(setting, movedFrom);
    return endpoint;
  }

  /** A call's endpoints as `client.stream` takes them: the endpoint and its fallbacks, each with its own key for its own origin. */
  async endpointChain(setting: EndpointSetting): Promise<{ endpoint: Endpoint; fallbacks: Endpoint[] }> {
    const [endpoint, ...fallbacks] = await Promise.all(
      chainOf(this.settings.endpoints, setting).map((s) => this.endpoint(s)),
    );
    return { endpoint: endpoint!, fallbacks };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.current?.metrics.dispose();
    void this.current?.client.close();
    this.current = undefined;
  }

  private rebuild(proxy: string): void {
    const previous = this.current;
    const client = new LlmClient({ ...clientOptionsFrom(this.settings), metricsIntervalMs: 250, cache: this.cache });
    this.current = { client, proxy, metrics: client.onMetricsChange(() => this.metricsChanged.fire()) };
    if (previous) {
      previous.metrics.dispose();
      closeWhenIdle(previous.client);
      this.log.info('Proxy settings changed; new connections use them.');
    }
  }

  private warnMovedKey(setting: EndpointSetting, storedOrigin: string): void {
    const origin = endpointOrigin(setting);
    const key = `${setting.id} ${origin}`;
    if (this.warnedMoves.has(key)) return;
    this.warnedMoves.add(key);
    this.log.warn(
      `The key for endpoint ${setting.id} was set for ${storedOrigin}; the endpoint now points at ${origin}, so the key is not sent.`,
    );
    void vscode.window
      .showWarningMessage(
        vscode.l10n.t(
          'The API key for "{0}" was set for {1}, but the endpoint now points at {2}. Flowgate does not send it there. Set the key again if you trust this address.',
          setting.id,
          storedOrigin,
          origin,
        ),
        vscode.l10n.t('Set API Key'),
      )
      .then((choice) => choice && vscode.commands.executeCommand('flowgate.setApiKey', setting.id));
  }
}

/** Lets calls on a replaced client finish, then releases its sockets. */
function closeWhenIdle(client: LlmClient): void {
  const check = setInterval(() => {
    const { inFlight, queued } = client.metrics().overall;
    if (inFlight + queued > 0) return;
    clearInterval(check);
    void client.close();
  }, 1000);
}
