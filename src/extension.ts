import * as vscode from 'vscode';
import { BatchCommand } from './host/batch/batch-command';
import { ChatController } from './host/chat/chat-controller';
import { CostGuard } from './host/guards/cost-guard';
import { ChatViewProvider } from './host/chat/chat-view';
import { registerCommands } from './host/commands';
import { EngineHost } from './host/endpoints/engine-host';
import { MetricsExport } from './host/monitor/metrics-export';
import { MetricsDocument } from './host/monitor/metrics-view';
import { Settings } from './host/settings/settings';
import { SharedLink } from './host/endpoints/shared-link';
import { KeyStore } from './host/endpoints/key-store';
import { StatusItem } from './host/monitor/status-item';
import { loadTokenCounter } from './core';
import { ChatModelProvider } from './host/language-model/chat-model-provider';
import { ChatUsage } from './host/language-model/chat-usage';
import { TokenCounter } from './host/language-model/token-count';

/** What activate() returns: enough for the integration suite to drive a chat and read the status bar. */
export interface FlowgateApi {
  chat: Pick<ChatController, 'send' | 'stop'>;
  statusText(): string;
}

/**
 * The composition root: builds the services and registers them. Nothing here
 * touches the network or the disk beyond reading settings; the engine opens
 * its first socket with the first request.
 */
export function activate(context: vscode.ExtensionContext): FlowgateApi {
  const log = vscode.window.createOutputChannel('Flowgate', { log: true });
  const settings = new Settings(log);
  const keys = new KeyStore(context.secrets);
  const shared = new SharedLink(context.secrets, log);
  const engine = new EngineHost(
    settings,
    keys,
    log,
    vscode.Uri.joinPath(context.globalStorageUri, 'cache').fsPath,
    shared,
  );
  const costs = new CostGuard(context.globalState, settings);
  const chat = new ChatController(engine, context.workspaceState, log, costs);
  const view = new ChatViewProvider(context.extensionUri, chat, engine);
  const chatUsage = new ChatUsage();
  const models = new ChatModelProvider(engine, settings, costs, chatUsage, tokenCounter(), log);
  const metrics = new MetricsDocument(engine, chatUsage);
  const status = new StatusItem(engine, costs, settings, chatUsage);
  const batch = new BatchCommand(engine, context.storageUri ?? context.globalStorageUri, log, costs);
  const exporter = new MetricsExport(engine, settings, log);
  context.subscriptions.push(
    log,
    settings,
    engine,
    chat,
    metrics,
    exporter,
    status,
    models,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, view),
    vscode.lm.registerLanguageModelChatProvider('flowgate', models),
    settings.onDidChange(() => chat.refreshEndpoints()),
    chat.onDidChangeBusy((busy) => void vscode.commands.executeCommand('setContext', 'flowgate.busy', busy)),
    ...registerCommands({ engine, chat, view, keys, metrics, batch, log }),
    vscode.commands.registerCommand('flowgate.exportMetrics', () => exporter.exportJson()),
    vscode.commands.registerCommand('flowgate.clearCache', async () => {
      await engine.cache.clear();
      void vscode.window.showInformationMessage(vscode.l10n.t('Flowgate cache cleared.'));
    }),
  );
  return { chat, statusText: () => status.text };
}

/** gpt-tokenizer's tables load on the first count VS Code's chat asks for, not at activation. */
function tokenCounter(): TokenCounter {
  let tokenize: ((text: string) => number) | undefined | null = null;
  return new TokenCounter(() => (tokenize === null ? (tokenize = loadTokenCounter()) : tokenize));
}

/** Pools close through the disposables above (EngineHost.dispose). */
export function deactivate(): void {}
