import * as vscode from 'vscode';
import type { CostGuard } from '../guards/cost-guard';
import type { EngineHost } from '../endpoints/engine-host';
import type { ChatUsage } from '../language-model/chat-usage';
import type { Settings } from '../settings/settings';
import { statusView } from './status-format';

/**
 * One status-bar item for the active endpoint: running and queued, quota
 * headroom, recent latency; the warning colour when quota runs low or the
 * breaker is open. Updates come from the engine's throttled metrics event.
 */
export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('flowgate.status', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly engine: EngineHost,
    private readonly costs: CostGuard,
    settings: Settings,
    private readonly chatUsage: ChatUsage,
  ) {
    this.item.name = vscode.l10n.t('Flowgate');
    this.item.command = 'flowgate.showMetrics';
    this.disposables = [
      engine.onDidChangeMetrics(() => this.update()),
      settings.onDidChange(() => this.update()),
      chatUsage.onChange(() => this.update()),
    ];
    this.update();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  update(): void {
    const active = this.engine.active;
    if (!active) {
      this.item.text = `$(pulse) ${vscode.l10n.t('Flowgate: no endpoint')}`;
      this.item.tooltip = vscode.l10n.t('Add an endpoint to flowgate.endpoints.');
      this.item.backgroundColor = undefined;
      return;
    }
    // Metrics exist only once the client has served a request; reading them must not create one.
    const metrics = this.engine.hasClient ? this.engine.client.metrics() : undefined;
    const snapshot = metrics?.endpoints.find((e) => e.id === active.id);
    const view = statusView(active.model, snapshot, vscode.l10n.t, Date.now(), metrics?.overall);
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(`${view.tooltip}\n\n${this.extras().join('  \n')}`, true);
    tooltip.isTrusted = false;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = view.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  /** Spend, cache and redaction: the states the rest of the extension keeps. */
  private extras(): string[] {
    const t = vscode.l10n.t;
    const cache = this.engine.hasClient ? this.engine.client.metrics().cache : undefined;
    const mode = this.engine.settings.redaction.mode;
    return [
      this.chatUsage.summary(t),
      this.costs.summary(),
      cache ? t('Cache: {0} hits, {1} misses', cache.hits, cache.misses) : t('Cache: empty'),
      t('Redaction: {0}', mode === 'off' ? t('off') : mode === 'warn' ? t('ask before sending') : t('always')),
    ].filter((line): line is string => line !== undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.item.dispose();
  }
}
