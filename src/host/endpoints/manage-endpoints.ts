import * as vscode from 'vscode';
import type { EngineHost } from './engine-host';

type Choice = vscode.QuickPickItem & { run: () => Thenable<unknown> };

/**
 * "Flowgate: Manage Endpoints", also VS Code's "Manage" action for Flowgate's
 * models in its chat: every endpoint with what can be done to it, and a way
 * to add one.
 */
export async function manageEndpoints(engine: EngineHost): Promise<void> {
  const t = vscode.l10n.t;
  const activeId = engine.active?.id;
  const items: Choice[] = engine.settings.endpoints.map((e) => ({
    label: `${e.id === activeId ? '$(check)' : '$(server)'} ${e.id}`,
    description: `${e.provider} · ${e.model}`,
    detail: e.baseUrl,
    run: () => endpointActions(engine, e.id),
  }));
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator, run: async () => {} });
  items.push({
    label: `$(add) ${t('Add or Edit Endpoints in settings.json…')}`,
    detail: t("Each entry of flowgate.endpoints becomes a model in Flowgate's panel and in VS Code's chat."),
    run: () => editEndpointsSetting(),
  });
  const picked = await vscode.window.showQuickPick(items, {
    title: t('Flowgate Endpoints'),
    placeHolder: t('Choose an endpoint to set its key, check its connection or use it in the panel'),
    matchOnDescription: true,
    matchOnDetail: true,
  });
  await picked?.run();
}

async function endpointActions(engine: EngineHost, id: string): Promise<void> {
  const t = vscode.l10n.t;
  const command = (label: string, name: string, ...args: unknown[]): Choice => ({
    label,
    run: () => vscode.commands.executeCommand(name, ...args),
  });
  const actions: Choice[] = [
    command(`$(key) ${t('Set API Key')}`, 'flowgate.setApiKey', id),
    command(`$(trash) ${t('Clear API Key')}`, 'flowgate.clearApiKey', id),
    command(`$(pulse) ${t('Diagnose Connection')}`, 'flowgate.diagnose', id),
    { label: `$(comment-discussion) ${t("Use in Flowgate's Panel")}`, run: () => engine.selectEndpoint(id) },
    { label: `$(json) ${t('Edit in settings.json')}`, run: () => editEndpointsSetting() },
  ];
  const picked = await vscode.window.showQuickPick(actions, { title: t('Endpoint "{0}"', id) });
  await picked?.run();
}

function editEndpointsSetting(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettingsJson', {
    revealSetting: { key: 'flowgate.endpoints', edit: true },
  });
}
