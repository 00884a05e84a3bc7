import * as vscode from 'vscode';

/**
 * The composition root. It only builds and registers; nothing here touches
 * the network or the disk, so activation stays instant.
 */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Flowgate', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand('flowgate.showLog', () => log.show()));
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
