/**
 * Messages between the extension host and the chat webview: one union per
 * direction, with guards. Types and guards only; no runtime dependencies.
 */

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

export interface ChatTurn {
  id: string;
  prompt: string;
  /** The prompt as it was sent (with placeholders when redacted); later turns send this as history. */
  sentPrompt?: string;
  /** What was attached, e.g. "selection in main.ts (12 lines)". */
  contextLabel?: string;
  answer: string;
  status: TurnStatus;
  error?: string;
  /** e.g. "llama3.2 · 1.2 s · 340 tokens". */
  footer?: string;
  /** The model's reasoning, shown folded above the answer. */
  reasoning?: string;
  /** Tool calls the model asked for; the panel shows them and runs none. */
  toolCalls?: ToolCallView[];
  /** What the model said instead of answering. */
  refusal?: string;
  /** Why the answer ended, when that is worth saying. */
  finish?: NotableFinish;
}

export interface ToolCallView {
  name: string;
  arguments: string;
}

/** Endings a person should be told about: cut by the token limit, filtered, refused, or tool calls. */
export type NotableFinish = 'length' | 'content_filter' | 'refusal' | 'tool_calls';

export interface EndpointChoice {
  id: string;
  label: string;
}

export type ContextChoice = 'none' | 'selection' | 'file';

export type HostToWebview =
  | {
      type: 'init';
      strings: Record<string, string>;
      endpoints: EndpointChoice[];
      activeEndpoint?: string;
      turns: ChatTurn[];
      pendingContext?: string;
    }
  | { type: 'endpoints'; endpoints: EndpointChoice[]; activeEndpoint?: string }
  | { type: 'turnStart'; turn: ChatTurn }
  /** Text added to a streaming answer since the last post. */
  | { type: 'delta'; id: string; text: string }
  /** Reasoning added since the last post. */
  | { type: 'reasoning'; id: string; text: string }
  | { type: 'toolCall'; id: string; call: ToolCallView }
  /** The refusal so far, whole. */
  | { type: 'refusal'; id: string; text: string }
  /** A retry or failover notice, shown until the next text arrives. */
  | { type: 'notice'; id: string; text: string }
  | { type: 'turnEnd'; id: string; status: TurnStatus; error?: string; footer?: string; finish?: NotableFinish }
  | { type: 'cleared' }
  /** The next prompt will carry this context (set by "Ask Flowgate" on a selection). */
  | { type: 'pendingContext'; label?: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'send'; prompt: string; context: ContextChoice }
  | { type: 'stop' }
  | { type: 'retry'; id: string }
  /** Ask the model to go on from where the token limit cut it off. */
  | { type: 'continue'; id: string }
  | { type: 'newChat' }
  | { type: 'selectEndpoint'; id: string }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  | { type: 'openLink'; href: string };

const CONTEXTS: readonly string[] = ['none', 'selection', 'file'];

type Shape = Record<string, 'string'>;

/** The string fields each webview message must carry. */
const WEBVIEW_MESSAGES: Record<WebviewToHost['type'], Shape> = {
  ready: {},
  send: { prompt: 'string', context: 'string' },
  stop: {},
  retry: { id: 'string' },
  continue: { id: 'string' },
  newChat: {},
  selectEndpoint: { id: 'string' },
  copy: { text: 'string' },
  insert: { text: 'string' },
  openLink: { href: 'string' },
};

/** Checks a message from the webview before the host acts on it: the page renders model output, so treat it as untrusted. */
export function isWebviewToHost(value: unknown): value is WebviewToHost {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  const type = message.type;
  if (typeof type !== 'string' || !Object.hasOwn(WEBVIEW_MESSAGES, type)) return false;
  const shape = WEBVIEW_MESSAGES[type as WebviewToHost['type']];
  if (!Object.keys(shape).every((field) => typeof message[field] === 'string')) return false;
  return type !== 'send' || CONTEXTS.includes(message.context as string);
}

export function isHostToWebview(value: unknown): value is HostToWebview {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
