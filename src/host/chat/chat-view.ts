import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { isWebviewToHost, type HostToWebview, type WebviewToHost } from '../../protocol';
import type { ChatController } from './chat-controller';
import { webviewStrings } from './webview-strings';

/**
 * The chat panel, a WebviewView in Flowgate's activity-bar container. The
 * page is locked down: no network, scripts only with this load's nonce,
 * resources only from the extension's own dist/ and media/ folders. Every
 * message from it is checked before the host acts on it.
 */
export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = 'flowgate.chat';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly chat: ChatController,
    private readonly engine: { selectEndpoint(id: string): Promise<void> },
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    const roots = [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')];
    view.webview.options = { enableScripts: true, localResourceRoots: roots };
    view.webview.html = this.html(view.webview);
    const post = (message: HostToWebview): void => void view.webview.postMessage(message);
    view.webview.onDidReceiveMessage((message: unknown) => {
      if (!isWebviewToHost(message)) return;
      if (message.type === 'ready') this.chat.attach(post, webviewStrings());
      else void this.handle(message);
    });
    view.onDidDispose(() => this.chat.detach());
  }

  /** Shows the panel and puts the cursor in its prompt box. */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }

  private async handle(message: Exclude<WebviewToHost, { type: 'ready' }>): Promise<void> {
    switch (message.type) {
      case 'send':
        return this.chat.send(message.prompt, message.context);
      case 'stop':
        return this.chat.stop();
      case 'retry':
        return this.chat.retry(message.id);
      case 'continue':
        return this.chat.continue(message.id);
      case 'newChat':
        return this.chat.newChat();
      case 'selectEndpoint':
        return this.engine.selectEndpoint(message.id);
      case 'copy':
        return vscode.env.clipboard.writeText(message.text);
      case 'insert':
        return insertAtCursor(message.text);
      case 'openLink':
        return openLink(message.href);
    }
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const asset = (...path: string[]): string =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...path)).toString();
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      // No remote images: a model's markdown image could carry data out in its URL.
      `img-src ${webview.cspSource} data:`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="${vscode.env.language}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${asset('dist', 'codicon.css')}" rel="stylesheet">
<link href="${asset('media', 'chat.css')}" rel="stylesheet">
<title>Flowgate</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${asset('dist', 'webview.js')}"></script>
</body>
</html>`;
  }
}

async function insertAtCursor(text: string): Promise<void> {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
  if (!editor) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a file to insert the code into.'));
    return;
  }
  await editor.edit((edit) => {
    for (const selection of editor.selections) edit.replace(selection, text);
  });
}

/** Links from model output open outside, and only web links. */
async function openLink(href: string): Promise<void> {
  let uri: vscode.Uri;
  try {
    uri = vscode.Uri.parse(href, true);
  } catch {
    return;
  }
  if (uri.scheme !== 'http' && uri.scheme !== 'https') return;
  await vscode.env.openExternal(uri);
}
