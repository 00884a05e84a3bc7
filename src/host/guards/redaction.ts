import * as vscode from 'vscode';
import { BUILT_IN_RULES, Redactor, countFound, customRules } from '../../core';
import type { FlowgateSettings } from '../settings/settings-model';

/** A redactor with the built-in rules and the user's own patterns; invalid patterns are logged, not fatal. */
export function redactorFor(settings: FlowgateSettings, log: vscode.LogOutputChannel): Redactor {
  const { rules, invalid } = customRules(settings.redaction.patterns);
  for (const pattern of invalid)
    log.warn(`flowgate.redaction.patterns: not a valid regular expression, ignored: ${pattern.length} characters`);
  return new Redactor([...BUILT_IN_RULES, ...rules]);
}

/**
 * Applies the redaction mode to a new prompt and its attached context (the
 * earlier turns went out already, as they were sent). "warn" shows how many
 * values were found (never the values) and lets the user choose. Returns
 * undefined when the user cancels.
 */
export async function applyRedaction(
  mode: FlowgateSettings['redaction']['mode'],
  redactor: Redactor,
  parts: { prompt: string; context?: string },
): Promise<{ prompt: string; context?: string; redacted: number } | undefined> {
  if (mode === 'off') return { ...parts, redacted: 0 };
  const prompt = redactor.redact(parts.prompt);
  const context = parts.context === undefined ? undefined : redactor.redact(parts.context);
  const redacted = countFound(prompt.found) + (context ? countFound(context.found) : 0);
  const cleaned = { prompt: prompt.text, context: context?.text, redacted };
  if (redacted === 0 || mode === 'redact') return cleaned;
  const sendRedacted = vscode.l10n.t('Send Redacted');
  const sendAsIs = vscode.l10n.t('Send As Is');
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t(
      'The prompt contains {0} value(s) that look like secrets or personal data (API keys, private keys, card numbers, email addresses).',
      redacted,
    ),
    {
      modal: true,
      detail: vscode.l10n.t(
        'Send Redacted replaces each with a placeholder such as [API_KEY_1]. Set flowgate.redaction.mode to "redact" to always do so.',
      ),
    },
    sendRedacted,
    sendAsIs,
  );
  if (choice === sendRedacted) return cleaned;
  if (choice === sendAsIs) return { ...parts, redacted: 0 };
  return undefined;
}
