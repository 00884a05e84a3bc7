import * as vscode from 'vscode';

/** The panel's words, translated here because a webview has no vscode.l10n. */
export function webviewStrings(): Record<string, string> {
  const t = vscode.l10n.t;
  return {
    placeholder: t('Ask anything (Enter to send, Shift+Enter for a new line)'),
    send: t('Send'),
    stop: t('Stop'),
    retry: t('Retry'),
    copy: t('Copy'),
    copied: t('Copied'),
    insert: t('Insert at Cursor'),
    newChat: t('New Chat'),
    endpoint: t('Endpoint'),
    context: t('Context'),
    contextNone: t('No context'),
    contextSelection: t('Selection'),
    contextFile: t('Current file'),
    attached: t('Attached: {0}'),
    stopped: t('Stopped.'),
    empty: t('Ask a question to start. Select code first and run "Flowgate: Ask About Selection" to ask about it.'),
    you: t('You'),
    assistant: t('Flowgate'),
    waiting: t('Waiting for the first token…'),
    thinking: t('Thinking'),
    toolCall: t('Tool call: {0}'),
    refused: t('Refused:'),
    truncated: t('The answer was cut off by the token limit.'),
    continue: t('Continue'),
    contentFilter: t("The provider's content filter stopped this answer."),
    refusedEnding: t('The model declined to answer.'),
    toolCallsEnding: t('The model asked to call tools; this panel shows the calls and runs none.'),
  };
}
