/**
 * VS Code's language-model part classes, sorted into chat-request.ts's plain
 * parts, and the engine's output made into parts for VS Code.
 */
import * as vscode from 'vscode';
import type { LmMessage, LmPart } from './chat-request';

/** Its role numbers: 1 user, 2 assistant, and 3 system (VS Code's chat sends it; the constant is not in the stable API). */
const SYSTEM_ROLE = 3;

interface ThinkingPartLike {
  value: string | string[];
  id?: string;
  metadata?: Readonly<Record<string, unknown>>;
}

type ThinkingPartClass = new (
  value: string | string[],
  id?: string,
  metadata?: Record<string, unknown>,
) => ThinkingPartLike;

/**
 * VS Code's part for a model's reasoning. It is not in the stable API yet, but
 * VS Code's chat shows it as "Thinking" when a provider reports it, so it is
 * used where this VS Code has it, and reasoning is left out where it does not.
 */
export const ThinkingPart = (vscode as unknown as { LanguageModelThinkingPart?: ThinkingPartClass })
  .LanguageModelThinkingPart;

export function toLmMessage(message: vscode.LanguageModelChatRequestMessage): LmMessage {
  const role =
    message.role === vscode.LanguageModelChatMessageRole.Assistant
      ? 'assistant'
      : (message.role as number) === SYSTEM_ROLE
        ? 'system'
        : 'user';
  return { role, parts: message.content.map(toLmPart) };
}

function toLmPart(part: unknown): LmPart {
  if (part instanceof vscode.LanguageModelTextPart) return { kind: 'text', text: part.value };
  if (part instanceof vscode.LanguageModelToolCallPart)
    return { kind: 'toolCall', callId: part.callId, name: part.name, input: part.input };
  if (part instanceof vscode.LanguageModelToolResultPart) {
    const isError = (part as { isError?: unknown }).isError === true;
    return {
      kind: 'toolResult',
      callId: part.callId,
      content: part.content.map(toLmPart),
      ...(isError && { isError }),
    };
  }
  if (part instanceof vscode.LanguageModelDataPart) return { kind: 'data', mimeType: part.mimeType, data: part.data };
  if (part instanceof vscode.LanguageModelPromptTsxPart) return { kind: 'text', text: promptTsxText(part.value) };
  if (ThinkingPart && part instanceof ThinkingPart) {
    const text = Array.isArray(part.value) ? part.value.join('') : part.value;
    return { kind: 'thinking', text, ...(part.metadata && { metadata: { ...part.metadata } }) };
  }
  return { kind: 'other' };
}

/** The text in a prompt-tsx tree (a tool's rendered result): its text nodes, in order. */
function promptTsxText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(promptTsxText).join('');
  if (typeof value !== 'object' || value === null) return '';
  const node = value as Record<string, unknown>;
  if (typeof node.text === 'string') return node.text;
  return Object.values(node).map(promptTsxText).join('');
}
