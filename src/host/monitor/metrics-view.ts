import * as vscode from 'vscode';
import { formatDuration, type Counters, type EndpointSnapshot } from '../../core';
import type { EngineHost } from '../endpoints/engine-host';
import type { ChatUsage } from '../language-model/chat-usage';
import { statusTooltip } from './status-format';

const SCHEME = 'flowgate-metrics';
export const METRICS_URI = vscode.Uri.from({ scheme: SCHEME, path: '/Flowgate Metrics.md' });

/**
 * "Flowgate: Show Metrics": a live markdown document of every endpoint's
 * figures, opened in the markdown preview and refreshed as metrics change.
 */
export class MetricsDocument implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly engine: EngineHost,
    private readonly chatUsage: ChatUsage,
  ) {
    this.disposables = [
      this.changed,
      chatUsage.onChange(() => this.changed.fire(METRICS_URI)),
      vscode.workspace.registerTextDocumentContentProvider(SCHEME, this),
      engine.onDidChangeMetrics(() => this.changed.fire(METRICS_URI)),
    ];
  }

  provideTextDocumentContent(): string {
    const t = vscode.l10n.t;
    if (!this.engine.hasClient) return `# ${t('Flowgate Metrics')}\n\n${t('No requests yet.')}\n`;
    const { overall, endpoints, cache } = this.engine.client.metrics();
    const cacheLine = cache
      ? `${t('Cache')}: ${t('{0} hits, {1} misses, {2} answers, {3} KB in memory', cache.hits, cache.misses, cache.entries, Math.round(cache.bytes / 1024))}`
      : '';
    return (
      [
        `# ${t('Flowgate Metrics')}`,
        `## ${t('All endpoints')}`,
        overallTable(overall),
        cacheLine,
        this.chatUsage.summary(t) ?? '',
        ...endpoints.map((e) => endpointSection(e)),
      ]
        .filter(Boolean)
        .join('\n\n') + '\n'
    );
  }

  async show(): Promise<void> {
    await vscode.commands.executeCommand('markdown.showPreview', METRICS_URI);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function overallTable(c: Counters): string {
  const t = vscode.l10n.t;
  const p = (x: Counters['latencyMs']['sinceStart']): string =>
    x.count ? [x.p50, x.p95, x.p99].map((v) => (v === undefined ? '–' : formatDuration(v))).join(' / ') : '–';
  return [
    `| | |`,
    `|---|---|`,
    `| ${t('Requests')} | ${c.requests} (${c.succeeded} ok, ${c.inFlight} running, ${c.queued} queued) |`,
    `| ${t('Retries / 429s')} | ${c.retries} / ${c.rateLimited} |`,
    `| ${t('Latency p50 / p95 / p99, since start')} | ${p(c.latencyMs.sinceStart)} |`,
    `| ${t('First output (thinking, tool call or text) p50 / p95 / p99, since start')} | ${p(c.firstOutputMs.sinceStart)} |`,
    `| ${t('First token p50 / p95 / p99, since start')} | ${p(c.ttftMs.sinceStart)} |`,
    `| ${t('Tokens in / out')} | ${c.inputTokens} / ${c.outputTokens} |`,
  ].join('\n');
}

function endpointSection(e: EndpointSnapshot): string {
  return `## ${e.id}\n\n${statusTooltip(e, vscode.l10n.t).replace(/\n\n[^\n]*$/, '')}`;
}
