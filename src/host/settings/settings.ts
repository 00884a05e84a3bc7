import * as vscode from 'vscode';
import { parseSettings, type FlowgateSettings } from './settings-model';

/**
 * Flowgate's settings, read and validated in one place, with one event for
 * a change. In an untrusted workspace the endpoint settings come from the
 * user's own settings only: a cloned repository must not be able to point an
 * endpoint (and its key) somewhere else. package.json also declares them
 * restricted, which VS Code enforces; this is the second lock.
 */
export class Settings implements vscode.Disposable {
  private read = readSettings();
  private readonly changed = new vscode.EventEmitter<FlowgateSettings>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  /** The settings changed (or the workspace became trusted); fired after `current` is updated. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => affectsFlowgate(event) && this.reload()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reload()),
    );
    this.reportProblems();
  }

  get current(): FlowgateSettings {
    return this.read.settings;
  }

  /** Makes `id` the active endpoint, in the user's settings. */
  async setActiveEndpoint(id: string): Promise<void> {
    await vscode.workspace.getConfiguration('flowgate').update('activeEndpoint', id, vscode.ConfigurationTarget.Global);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private reload(): void {
    this.read = readSettings();
    this.reportProblems();
    this.changed.fire(this.current);
  }

  /** Once per read, not per use: each problem goes to the log, and one warning points there. */
  private reportProblems(): void {
    const { problems } = this.read;
    for (const problem of problems) this.log.warn(`Settings: ${problem}`);
    if (!problems.length) return;
    const showLog = vscode.l10n.t('Show Log');
    const openSettings = vscode.l10n.t('Open Settings');
    const message =
      problems.length === 1
        ? vscode.l10n.t('Flowgate: {0}', problems[0] ?? '')
        : vscode.l10n.t('Flowgate ignored {0} invalid setting(s). See the Flowgate log for why.', problems.length);
    void vscode.window.showWarningMessage(message, openSettings, showLog).then((choice) => {
      if (choice === showLog) this.log.show();
      if (choice === openSettings) void vscode.commands.executeCommand('workbench.action.openSettings', 'flowgate');
    });
  }
}

function readSettings(): { settings: FlowgateSettings; problems: string[] } {
  const config = vscode.workspace.getConfiguration('flowgate');
  const http = vscode.workspace.getConfiguration('http');
  const proxy = {
    proxy: http.get<string>('proxy') || undefined,
    noProxy: http.get<string[]>('noProxy') ?? [],
    strictSSL: http.get<boolean>('proxyStrictSSL') ?? true,
  };
  const trusted = new Set(['endpoints', 'activeEndpoint']);
  return parseSettings((key) => (trusted.has(key) ? trustedValue(config, key) : config.get(key)), proxy);
}

function trustedValue(config: vscode.WorkspaceConfiguration, key: string): unknown {
  if (vscode.workspace.isTrusted) return config.get(key);
  const inspected = config.inspect(key);
  return inspected?.globalValue ?? inspected?.defaultValue;
}

function affectsFlowgate(event: vscode.ConfigurationChangeEvent): boolean {
  return ['flowgate', 'http.proxy', 'http.noProxy', 'http.proxyStrictSSL'].some((section) =>
    event.affectsConfiguration(section),
  );
}
