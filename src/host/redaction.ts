import * as vscode from 'vscode';
import { BUILT_IN_RULES, Redactor, countFound, customRules, type ChatMessage } from '../core';
import type { FlowgateSettings } from './settings-model';

/** A redactor with the built-in rules and the user's own patterns; invalid patterns are logged, not fatal. */
export function redactorFor(settings: FlowgateSettings, log: vscode.LogOutputChannel): Redactor {
  const { rules, invalid } = customRules(settings.redaction.patterns);
  for (const pattern of invalid) log.warn(`flowgate.redaction.patterns: not a valid regular expression, ignored: ${pattern.length} characters`);
  return new Redactor([...BUILT_IN_RULES, ...rules]);
}

/**
 * Applies the redaction mode to the messages about to be sent. "warn" shows
 * how many values were found (never the values) and lets the user choose.
 * Returns undefined when the user cancels.
 */
export async function applyRedaction(mode: FlowgateSettings['redaction']['mode'], redactor: Redactor, messages: ChatMessage[]): Promise<{ messages: ChatMessage[]; redacted: number } | undefined> {
  if (mode === 'off') return { messages, redacted: 0 };
  const scrubbed = messages.map((m) => ({ message: m, result: redactor.redact(m.content) }));
  const redacted = scrubbed.reduce((sum, s) => sum + countFound(s.result.found), 0);
  const cleaned = scrubbed.map((s) => ({ ...s.message, content: s.result.text }));
  if (redacted === 0 || mode === 'redact') return { messages: cleaned, redacted };
  const sendRedacted = vscode.l10n.t('Send Redacted');
  const sendAsIs = vscode.l10n.t('Send As Is');
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t('The prompt contains {0} value(s) that look like secrets or personal data (API keys, private keys, card numbers, email addresses).', redacted),
    { modal: true, detail: vscode.l10n.t('Send Redacted replaces each with a placeholder such as [API_KEY_1]. Set flowgate.redaction.mode to "redact" to always do so.') },
    sendRedacted,
    sendAsIs,
  );
  if (choice === sendRedacted) return { messages: cleaned, redacted };
  if (choice === sendAsIs) return { messages, redacted: 0 };
  return undefined;
}
