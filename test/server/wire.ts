/**
 * The three wire formats as a real server writes them: a prelude, one piece
 * per token, and an epilogue with the end marker, usage and timings.
 */
export type WireFormat = 'openai' | 'anthropic' | 'ollama';

export interface WireParts {
  prelude: string[];
  token: (text: string) => string;
  epilogue: (finish: string) => string[];
  /** A provider error reported inside the stream. */
  error: (message: string, type: string) => string;
  /** What a server sends to keep an idle stream open. */
  keepAlive: string;
  contentType: string;
}

export interface Usage {
  input: number;
  output: number;
}

const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

export function wireParts(format: WireFormat, model: string, usage: Usage): WireParts {
  switch (format) {
    case 'openai':
      return openaiParts(model, usage);
    case 'anthropic':
      return anthropicParts(model, usage);
    case 'ollama':
      return ollamaParts(model, usage);
  }
}

function openaiParts(model: string, usage: Usage): WireParts {
  const chunk = (delta: unknown, finish: string | null = null): unknown => ({
    id: 'chatcmpl-test',
    object: 'chat.completion.chunk',
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    prelude: [sse(chunk({ role: 'assistant', content: '' }))],
    token: (text) => sse(chunk({ content: text })),
    epilogue: (finish) => [
      sse(chunk({}, finish)),
      sse({
        id: 'chatcmpl-test',
        object: 'chat.completion.chunk',
        model,
        choices: [],
        usage: {
          prompt_tokens: usage.input,
          completion_tokens: usage.output,
          total_tokens: usage.input + usage.output,
        },
      }),
      'data: [DONE]\n\n',
    ],
    error: (message, type) => sse({ error: { message, type } }),
    keepAlive: ': keep-alive\n\n',
    contentType: 'text/event-stream',
  };
}

function anthropicParts(model: string, usage: Usage): WireParts {
  return {
    prelude: [
      sse(
        {
          type: 'message_start',
          message: {
            id: 'msg_test',
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            usage: { input_tokens: usage.input, output_tokens: 1 },
          },
        },
        'message_start',
      ),
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
      sse({ type: 'ping' }, 'ping'),
    ],
    token: (text) =>
      sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    epilogue: (finish) => [
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: finish, stop_sequence: null },
          usage: { output_tokens: usage.output },
        },
        'message_delta',
      ),
      sse({ type: 'message_stop' }, 'message_stop'),
    ],
    error: (message, type) => sse({ type: 'error', error: { type, message } }, 'error'),
    keepAlive: sse({ type: 'ping' }, 'ping'),
    contentType: 'text/event-stream',
  };
}

function ollamaParts(model: string, usage: Usage): WireParts {
  const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
  const base = { model, created_at: '2026-01-01T00:00:00Z' };
  return {
    prelude: [],
    token: (text) => line({ ...base, message: { role: 'assistant', content: text }, done: false }),
    epilogue: (finish) => [
      line({
        ...base,
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: finish,
        total_duration: 5_000_000_000,
        load_duration: 2_000_000_000,
        prompt_eval_count: usage.input,
        prompt_eval_duration: 1_000_000_000,
        eval_count: usage.output,
        eval_duration: 2_000_000_000,
      }),
    ],
    error: (message) => line({ error: message }),
    keepAlive: '',
    contentType: 'application/x-ndjson',
  };
}

/** A whole non-streaming response body. */
export function wholeBody(format: WireFormat, model: string, text: string, finish: string, usage: Usage): unknown {
  switch (format) {
    case 'openai':
      return {
        id: 'chatcmpl-test',
        object: 'chat.completion',
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
        usage: { prompt_tokens: usage.input, completion_tokens: usage.output },
      };
    case 'anthropic':
      return {
        id: 'msg_test',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: finish,
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      };
    case 'ollama':
      return {
        model,
        message: { role: 'assistant', content: text },
        done: true,
        done_reason: finish,
        prompt_eval_count: usage.input,
        eval_count: usage.output,
        load_duration: 1_000_000,
        total_duration: 9_000_000,
      };
  }
}

/** The error body each provider sends with a failing status. */
export function errorBody(format: WireFormat, message: string, type: string): unknown {
  switch (format) {
    case 'openai':
      return { error: { message, type, code: type } };
    case 'anthropic':
      return { type: 'error', error: { type, message } };
    case 'ollama':
      return { error: message };
  }
}

export const FINISH_WORD: Record<WireFormat, { stop: string; length: string }> = {
  openai: { stop: 'stop', length: 'length' },
  anthropic: { stop: 'end_turn', length: 'max_tokens' },
  ollama: { stop: 'stop', length: 'length' },
};
