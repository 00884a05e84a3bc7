/**
 * Redaction for requests from VS Code's chat. There is no prompt to ask
 * about: the chat sends the whole conversation each time, and an agent sends
 * file contents and tool output on its own, dozens of times per task. So the
 * system text, every user message and every tool result is scrubbed (the
 * model's own messages came from the provider already). One redactor per
 * request, in message order, gives a value the same placeholder in every
 * request of a conversation. No vscode import; tested directly.
 */
import { countFound, type ChatRequest, type Redactor } from '../../core';

/** The request with values replaced, and how many distinct values were found. */
export function redactChatRequest(
  request: ChatRequest,
  redactor: Redactor,
): { request: ChatRequest; redacted: number } {
  let redacted = 0;
  const scrub = (text: string): string => {
    const result = redactor.redact(text);
    redacted += countFound(result.found);
    return result.text;
  };
  const messages = request.messages.map((m) => (m.role === 'assistant' ? m : { ...m, content: scrub(m.content) }));
  const system = request.system === undefined ? undefined : scrub(request.system);
  return { request: { ...request, messages, ...(system !== undefined && { system }) }, redacted };
}
