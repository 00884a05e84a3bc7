import * as vscode from 'vscode';
import { diagnose, endpointOrigin, formatDoctorReport } from '../core';
import { gatherContext, type ChatController } from './chat/chat-controller';
import type { ChatViewProvider } from './chat/chat-view';
import type { EngineHost } from './endpoints/engine-host';
import type { MetricsDocument } from './monitor/metrics-view';
import type { KeyStore } from './endpoints/key-store';
import { manageEndpoints } from './endpoints/manage-endpoints';
import { endpointLabel, type EndpointSetting } from './settings/settings-model';

import type { BatchCommand } from './batch/batch-command';

export interface CommandDeps {
  engine: EngineHost;
  chat: ChatController;
  view: ChatViewProvider;
  keys: KeyStore;
  metrics: MetricsDocument;
  batch: BatchCommand;
  log: vscode.LogOutputChannel;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { engine, chat, view, keys, metrics, batch, log } = deps;
  const commands: Record<string, (...args: unknown[]) => unknown> = {
    'flowgate.openPanel': () => view.reveal(),
    'flowgate.ask': async () => {
      chat.setPendingContext(gatherContext('selection'));
      await view.reveal();
    },
    'flowgate.stop': () => chat.stop(),
    'flowgate.newChat': async () => {
      chat.newChat();
      await view.reveal();
    },
    'flowgate.selectEndpoint': () => selectEndpoint(engine),
    'flowgate.setApiKey': (id?: unknown) => setApiKey(engine, keys, typeof id === 'string' ? id : undefined),
    'flowgate.clearApiKey': (id?: unknown) => clearApiKey(engine, keys, typeof id === 'string' ? id : undefined),
    'flowgate.showMetrics': () => metrics.show(),
    'flowgate.showLog': () => log.show(),
    'flowgate.batch.run': (uri?: unknown, uris?: unknown) => batch.run(uri, uris),
    'flowgate.diagnose': (id?: unknown) => diagnoseEndpoint(engine, typeof id === 'string' ? id : undefined),
    'flowgate.manageEndpoints': () => manageEndpoints(engine),
    'flowgate.setRedisPassword': () => engine.shared.setPassword(),
  };
  return Object.entries(commands).map(([id, run]) => vscode.commands.registerCommand(id, run));
}

async function pickEndpoint(engine: EngineHost, placeHolder: string): Promise<EndpointSetting | undefined> {
  const endpoints = engine.settings.endpoints;
  if (endpoints.length === 0) {
    void vscode.window.showWarningMessage(vscode.l10n.t('No endpoint is configured. Add one to flowgate.endpoints.'));
    return undefined;
  }
  const activeId = engine.active?.id;
  const items = endpoints.map((e) => ({
    label: e.id === activeId ? `$(check) ${e.id}` : e.id,
    description: `${e.provider} · ${e.model}`,
    detail: e.baseUrl,
    endpoint: e,
  }));
  return (await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true }))
    ?.endpoint;
}

async function selectEndpoint(engine: EngineHost): Promise<void> {
  const picked = await pickEndpoint(engine, vscode.l10n.t('Choose the endpoint for chat'));
  if (picked) await engine.selectEndpoint(picked.id);
}

async function setApiKey(engine: EngineHost, keys: KeyStore, endpointId?: string): Promise<void> {
  const endpoint =
    engine.settings.endpoints.find((e) => e.id === endpointId) ??
    (await pickEndpoint(engine, vscode.l10n.t('Set the API key for which endpoint?')));
  if (!endpoint) return;
  const origin = endpointOrigin(endpoint);
  const key = await vscode.window.showInputBox({
    title: vscode.l10n.t('API key for {0}', endpointLabel(endpoint)),
    prompt: vscode.l10n.t('Stored in the OS keychain and sent only to {0}.', origin),
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : vscode.l10n.t('The key cannot be empty.')),
  });
  if (!key) return;
  await keys.set(endpoint.id, origin, key.trim());
  void vscode.window.showInformationMessage(
    vscode.l10n.t('API key saved for "{0}". It will only be sent to {1}.', endpoint.id, origin),
  );
}

/** "Flowgate: Diagnose Connection": the doctor's report in a new editor, ready to copy. */
async function diagnoseEndpoint(engine: EngineHost, endpointId?: string): Promise<void> {
  const picked =
    engine.settings.endpoints.find((e) => e.id === endpointId) ??
    (await pickEndpoint(engine, vscode.l10n.t('Diagnose which endpoint?')));
  if (!picked) return;
  const endpoint = await engine.endpoint(picked);
  const { settings } = engine;
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Checking {0}…', picked.id) },
    () =>
      diagnose(endpoint, {
        proxy: settings.proxy,
        connectTimeoutMs: settings.timeouts.connectMs,
        firstTokenTimeoutMs: settings.timeouts.firstTokenMs,
      }),
  );
  const document = await vscode.workspace.openTextDocument({
    language: 'markdown',
    content: `# ${vscode.l10n.t('Flowgate connection check')}\n\n\`\`\`text\n${formatDoctorReport(report)}\n\`\`\`\n`,
  });
  await vscode.window.showTextDocument(document);
}

async function clearApiKey(engine: EngineHost, keys: KeyStore, endpointId?: string): Promise<void> {
  const endpoint =
    engine.settings.endpoints.find((e) => e.id === endpointId) ??
    (await pickEndpoint(engine, vscode.l10n.t('Clear the API key of which endpoint?')));
  if (!endpoint) return;
  await keys.delete(endpoint.id);
  void vscode.window.showInformationMessage(vscode.l10n.t('API key removed for "{0}".', endpoint.id));
}
