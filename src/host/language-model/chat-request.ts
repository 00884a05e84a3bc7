/**
 * VS Code's chat messages and options as the engine's request. No vscode
 * import: chat-model-provider.ts sorts VS Code's part classes into the plain
 * parts below, so the mapping is tested directly.
 */
import { paramsProblem, type ChatMessage, type ChatRequest, type ProviderKind, type ToolDefinition } from '../../core';

export type LmPart =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string; metadata?: Record<string, unknown> }
  | { kind: 'toolCall'; callId: string; name: string; input: unknown }
  | { kind: 'toolResult'; callId: string; content: LmPart[]; isError?: boolean }
  | { kind: 'data'; mimeType: string; data: Uint8Array }
  /** A part this version of Flowgate does not know; left out of the request. */
  | { kind: 'other' };

export interface LmMessage {
  role: 'system' | 'user' | 'assistant';
  parts: LmPart[];
}

export interface LmTool {
  name: string;
  description: string;
  inputSchema?: object;
}

export interface LmOptions {
  tools?: readonly LmTool[];
  /** VS Code's LanguageModelChatToolMode: Required asks for a tool call. */
  toolMode: 'auto' | 'required';
  modelOptions?: Readonly<Record<string, unknown>>;
}

export interface MappedRequest {
  request: ChatRequest;
  /** modelOptions other than temperature and max tokens, sent as extra body fields. */
  params?: Record<string, unknown>;
}

/** An option a caller passed that cannot be sent; its message says which and why. */
export class ModelOptionError extends Error {
  override readonly name = 'ModelOptionError';
}

export function toChatRequest(
  messages: readonly LmMessage[],
  options: LmOptions,
  provider: ProviderKind,
): MappedRequest {
  const system: string[] = [];
  const out: ChatMessage[] = [];
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'system') system.push(textOf(message.parts));
    else if (message.role === 'assistant') out.push(assistantMessage(message.parts, toolNames));
    else out.push(...userMessages(message.parts, toolNames));
  }
  const request: ChatRequest = { messages: out };
  if (system.some(Boolean)) request.system = system.filter(Boolean).join('\n\n');
  if (options.tools?.length) {
    request.tools = options.tools.map(toolDefinition);
    if (options.toolMode === 'required') request.toolChoice = 'required';
  }
  const params = applyModelOptions(request, options.modelOptions ?? {}, provider);
  return params ? { request, params } : { request };
}

function assistantMessage(parts: LmPart[], toolNames: Map<string, string>): ChatMessage {
  const toolCalls = parts.flatMap((p) => (p.kind === 'toolCall' ? [p] : []));
  for (const call of toolCalls) toolNames.set(call.callId, call.name);
  const thinking = parts.flatMap((p) => (p.kind === 'thinking' ? [p] : []));
  return {
    role: 'assistant',
    content: textOf(parts),
    ...(toolCalls.length && {
      toolCalls: toolCalls.map((c) => ({ id: c.callId, name: c.name, arguments: JSON.stringify(c.input ?? {}) })),
    }),
    ...(thinking.length && { reasoning: reasoningOf(thinking) }),
  };
}

/** Tool results first (they answer the assistant turn just before), then what the user wrote, with any images. */
function userMessages(parts: LmPart[], toolNames: Map<string, string>): ChatMessage[] {
  const results: ChatMessage[] = parts.flatMap((p) =>
    p.kind === 'toolResult'
      ? [
          {
            role: 'tool' as const,
            toolCallId: p.callId,
            toolName: toolNames.get(p.callId),
            content: textOf(p.content),
            ...(p.isError && { isError: true }),
          },
        ]
      : [],
  );
  const images = parts.flatMap((p) =>
    p.kind === 'data' && p.mimeType.startsWith('image/')
      ? [{ mediaType: p.mimeType, data: Buffer.from(p.data).toString('base64') }]
      : [],
  );
  const content = textOf(parts);
  if (!content && !images.length && results.length) return results;
  return [...results, { role: 'user', content, ...(images.length && { images }) }];
}

/** The text of text parts and of textual data parts (JSON, plain text), in order. Images are not text. */
export function textOf(parts: readonly LmPart[]): string {
  return parts
    .map((p) => {
      if (p.kind === 'text') return p.text;
      if (p.kind === 'data' && isTextual(p.mimeType)) return Buffer.from(p.data).toString('utf8');
      return '';
    })
    .join('');
}

function isTextual(mimeType: string): boolean {
  return mimeType.startsWith('text/') || mimeType.includes('json');
}

/** Anthropic's thinking signature and redacted blocks travel in the part's metadata (see chat-model-provider.ts). */
function reasoningOf(thinking: Extract<LmPart, { kind: 'thinking' }>[]): NonNullable<ChatMessageReasoning> {
  const signature = thinking.map((t) => t.metadata?.signature).find((s): s is string => typeof s === 'string');
  const redacted = thinking.flatMap((t) => {
    const r = t.metadata?.redacted;
    return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
  });
  return {
    text: thinking.map((t) => t.text).join(''),
    ...(signature && { signature }),
    ...(redacted.length && { redacted }),
  };
}

type ChatMessageReasoning = Extract<ChatMessage, { role: 'assistant' }>['reasoning'];

function toolDefinition(tool: LmTool): ToolDefinition {
  const schema = tool.inputSchema as Record<string, unknown> | undefined;
  return {
    name: tool.name,
    description: tool.description,
    parameters: schema && Object.keys(schema).length ? schema : { type: 'object', properties: {} },
  };
}

/**
 * Options another extension passed with its request. Keys starting with "_"
 * are VS Code's own bookkeeping and stay home; temperature and the output
 * limit map to the request; anything else goes into the body as it came,
 * unless it would replace what Flowgate itself sends.
 */
function applyModelOptions(
  request: ChatRequest,
  modelOptions: Readonly<Record<string, unknown>>,
  provider: ProviderKind,
): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(modelOptions)) {
    if (key.startsWith('_') || value === undefined) continue;
    if (key === 'temperature' && typeof value === 'number') request.temperature = value;
    else if ((key === 'max_tokens' || key === 'maxTokens') && Number.isInteger(value) && (value as number) > 0)
      request.maxTokens = value as number;
    else params[key] = value;
  }
  if (!Object.keys(params).length) return undefined;
  const problem = paramsProblem(params, provider);
  if (problem) throw new ModelOptionError(`modelOptions: ${problem}`);
  return params;
}
