import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { startPrometheusServer } from '../../core';
import type { EngineHost } from '../endpoints/engine-host';
import type { Settings } from '../settings/settings';

/**
 * The opt-in Prometheus endpoint (flowgate.metrics.prometheusPort, 0 = off)
 * on 127.0.0.1, and "Flowgate: Export Metrics" to JSON. The endpoint starts
 * with the engine's first request, not at activation, and follows the
 * setting as it changes.
 */
export class MetricsExport implements vscode.Disposable {
  private server: { port: number; close(): Promise<void> } | undefined;
  private serving = 0;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly engine: EngineHost,
    private readonly settings: Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables = [
      engine.onDidChangeMetrics(() => void this.sync()),
      settings.onDidChange(() => void this.sync()),
    ];
  }

  async exportJson(): Promise<void> {
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file('flowgate-metrics.json'),
      filters: { JSON: ['json'] },
    });
    if (!target) return;
    const snapshot = this.engine.hasClient ? this.engine.client.metrics() : undefined;
    await writeFile(target.fsPath, `${JSON.stringify(snapshot ?? { note: 'no requests yet' }, null, 2)}\n`, 'utf8');
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Metrics saved to {0}.', vscode.workspace.asRelativePath(target)),
    );
  }

  private async sync(): Promise<void> {
    const wanted = this.engine.hasClient ? this.settings.current.metrics.prometheusPort : 0;
    if (wanted === this.serving) return;
    this.serving = wanted;
    await this.server?.close();
    this.server = undefined;
    if (!wanted) return;
    try {
      this.server = await startPrometheusServer(() => this.engine.client, wanted);
      this.log.info(`Prometheus metrics on http://127.0.0.1:${this.server.port}/metrics`);
    } catch (error) {
      this.log.warn(`Could not serve metrics on 127.0.0.1:${wanted}: ${(error as Error).message}`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Flowgate could not serve metrics on port {0}: {1}', wanted, (error as Error).message),
      );
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    void this.server?.close();
  }
}
