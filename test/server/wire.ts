/**
 * The four wire formats as a real server writes them: a prelude, one piece
 * per token, and an epilogue with the end marker, usage and timings.
 */
export type WireFormat = 'openai' | 'openai-responses' | 'anthropic' | 'ollama';

export interface WireParts {
  prelude: string[];
  /** One piece of reasoning, sent before any text. */
  reasoning: (text: string) => string;
  /** What ends the reasoning and opens the answer text (Anthropic's content blocks). */
  textStart: string;
  token: (text: string) => string;
  /** One tool call, its arguments in two pieces where the format streams them. */
  toolCall: (call: ToolCallScript, index: number) => string;
  epilogue: (finish: string) => string[];
  /** A provider error reported inside the stream. */
  error: (message: string, type: string) => string;
  /** What a server sends to keep an idle stream open. */
  keepAlive: string;
  contentType: string;
}

export interface Usage {
  /** Prompt tokens; for Anthropic, those neither read from nor written to the cache, as its API counts them. */
  input: number;
  output: number;
  /** Prompt tokens served from the provider's cache. */
  cachedRead?: number;
  /** Prompt tokens written to the provider's cache (Anthropic). */
  cacheWrite?: number;
}

/** OpenAI's prompt_tokens_details, when some were cached. */
function openaiDetails(usage: Usage): Record<string, unknown> {
  return usage.cachedRead ? { prompt_tokens_details: { cached_tokens: usage.cachedRead } } : {};
}

/** Anthropic's usage of the prompt: fresh, read from and written to the cache, each apart. */
function anthropicPromptUsage(usage: Usage): Record<string, number> {
  return {
    input_tokens: usage.input,
    ...(usage.cachedRead !== undefined ? { cache_read_input_tokens: usage.cachedRead } : {}),
    ...(usage.cacheWrite !== undefined ? { cache_creation_input_tokens: usage.cacheWrite } : {}),
  };
}

export interface ToolCallScript {
  id: string;
  name: string;
  /** JSON text. */
  arguments: string;
}

/** What a scripted answer contains besides its text tokens. */
export interface Shape {
  reasoning: boolean;
}

const halves = (text: string): [string, string] => [text.slice(0, text.length >> 1), text.slice(text.length >> 1)];

const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

export function wireParts(
  format: WireFormat,
  model: string,
  usage: Usage,
  shape: Shape = { reasoning: false },
): WireParts {
  switch (format) {
    case 'openai':
      return openaiParts(model, usage);
    case 'openai-responses':
      return responsesParts(model, usage, shape);
    case 'anthropic':
      return anthropicParts(model, usage, shape);
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
    reasoning: (text) => sse(chunk({ reasoning_content: text })),
    textStart: '',
    token: (text) => sse(chunk({ content: text })),
    toolCall: (call, index) => {
      const [first, second] = halves(call.arguments);
      return [
        sse(
          chunk({
            tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
          }),
        ),
        sse(chunk({ tool_calls: [{ index, function: { arguments: first } }] })),
        sse(chunk({ tool_calls: [{ index, function: { arguments: second } }] })),
      ].join('');
    },
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
          ...openaiDetails(usage),
        },
      }),
      'data: [DONE]\n\n',
    ],
    error: (message, type) => sse({ error: { message, type } }),
    keepAlive: ': keep-alive\n\n',
    contentType: 'text/event-stream',
  };
}

/**
 * The Responses API: typed events around output items (reasoning, then the
 * message, then function calls), ending with response.completed or, when the
 * token limit cut the answer, response.incomplete. No [DONE].
 */
function responsesParts(model: string, usage: Usage, shape: Shape): WireParts {
  const event = (type: string, data: object): string => sse({ type, ...data }, type);
  const textIndex = shape.reasoning ? 1 : 0;
  const response = (status: string, extra: object = {}) => ({
    id: 'resp_test',
    object: 'response',
    model,
    status,
    ...extra,
  });
  const messageStart =
    event('response.output_item.added', {
      output_index: textIndex,
      item: { id: 'msg_test', type: 'message', role: 'assistant', status: 'in_progress', content: [] },
    }) +
    event('response.content_part.added', {
      item_id: 'msg_test',
      output_index: textIndex,
      content_index: 0,
      part: { type: 'output_text', text: '' },
    });
  const calls: ToolCallScript[] = [];
  return {
    prelude: [
      event('response.created', { response: response('in_progress') }),
      event('response.in_progress', { response: response('in_progress') }),
      shape.reasoning
        ? event('response.output_item.added', {
            output_index: 0,
            item: { id: 'rs_test', type: 'reasoning', summary: [] },
          })
        : messageStart,
    ],
    reasoning: (delta) =>
      event('response.reasoning_summary_text.delta', { item_id: 'rs_test', output_index: 0, summary_index: 0, delta }),
    textStart: shape.reasoning
      ? event('response.output_item.done', { output_index: 0, item: { id: 'rs_test', type: 'reasoning' } }) +
        messageStart
      : '',
    token: (delta) =>
      event('response.output_text.delta', { item_id: 'msg_test', output_index: textIndex, content_index: 0, delta }),
    toolCall: (call, index) => {
      calls.push(call);
      const at = textIndex + 1 + index;
      const item = { id: `fc_${index}`, type: 'function_call', call_id: call.id, name: call.name };
      const [first, second] = halves(call.arguments);
      return [
        event('response.output_item.added', {
          output_index: at,
          item: { ...item, arguments: '', status: 'in_progress' },
        }),
        event('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: first }),
        event('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: second }),
        event('response.function_call_arguments.done', {
          item_id: item.id,
          output_index: at,
          arguments: call.arguments,
        }),
        event('response.output_item.done', {
          output_index: at,
          item: { ...item, arguments: call.arguments, status: 'completed' },
        }),
      ].join('');
    },
    epilogue: (finish) => {
      const output = calls.map((call, index) => ({
        id: `fc_${index}`,
        type: 'function_call',
        call_id: call.id,
        name: call.name,
        arguments: call.arguments,
      }));
      const usageJson = {
        input_tokens: usage.input,
        output_tokens: usage.output,
        total_tokens: usage.input + usage.output,
      };
      const end =
        finish === 'max_output_tokens'
          ? event('response.incomplete', {
              response: response('incomplete', { incomplete_details: { reason: finish }, output, usage: usageJson }),
            })
          : event('response.completed', { response: response('completed', { output, usage: usageJson }) });
      return [
        event('response.output_item.done', {
          output_index: textIndex,
          item: { id: 'msg_test', type: 'message', status: 'completed' },
        }),
        end,
      ];
    },
    error: (message, type) => event('error', { code: type, message }),
    keepAlive: ': keep-alive\n\n',
    contentType: 'text/event-stream',
  };
}

function anthropicParts(model: string, usage: Usage, shape: Shape): WireParts {
  // With reasoning, block 0 is the thinking and the text is block 1; tool calls follow the text.
  const textIndex = shape.reasoning ? 1 : 0;
  const block = (index: number, content_block: unknown): string =>
    sse({ type: 'content_block_start', index, content_block }, 'content_block_start');
  const stop = (index: number): string => sse({ type: 'content_block_stop', index }, 'content_block_stop');
  const delta = (index: number, value: unknown): string =>
    sse({ type: 'content_block_delta', index, delta: value }, 'content_block_delta');
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
            usage: { ...anthropicPromptUsage(usage), output_tokens: 1 },
          },
        },
        'message_start',
      ),
      shape.reasoning ? block(0, { type: 'thinking', thinking: '' }) : block(0, { type: 'text', text: '' }),
      sse({ type: 'ping' }, 'ping'),
    ],
    reasoning: (thinking) => delta(0, { type: 'thinking_delta', thinking }),
    textStart: shape.reasoning
      ? delta(0, { type: 'signature_delta', signature: 'sig-test' }) + stop(0) + block(1, { type: 'text', text: '' })
      : '',
    token: (text) => delta(textIndex, { type: 'text_delta', text }),
    toolCall: (call, index) => {
      const at = textIndex + 1 + index;
      const [first, second] = halves(call.arguments);
      return [
        block(at, { type: 'tool_use', id: call.id, name: call.name, input: {} }),
        delta(at, { type: 'input_json_delta', partial_json: first }),
        delta(at, { type: 'input_json_delta', partial_json: second }),
        stop(at),
      ].join('');
    },
    epilogue: (finish) => [
      stop(textIndex),
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
    reasoning: (thinking) => line({ ...base, message: { role: 'assistant', content: '', thinking }, done: false }),
    textStart: '',
    token: (text) => line({ ...base, message: { role: 'assistant', content: text }, done: false }),
    toolCall: (call) =>
      line({
        ...base,
        message: {
          role: 'assistant',
          content: '',
          tool_calls: [{ function: { name: call.name, arguments: JSON.parse(call.arguments) as unknown } }],
        },
        done: false,
      }),
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
        usage: { prompt_tokens: usage.input, completion_tokens: usage.output, ...openaiDetails(usage) },
      };
    case 'openai-responses':
      return {
        id: 'resp_test',
        object: 'response',
        model,
        status: finish === 'max_output_tokens' ? 'incomplete' : 'completed',
        ...(finish === 'max_output_tokens' ? { incomplete_details: { reason: finish } } : {}),
        output: [{ id: 'msg_test', type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] }],
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      };
    case 'anthropic':
      return {
        id: 'msg_test',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: finish,
        usage: { ...anthropicPromptUsage(usage), output_tokens: usage.output },
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
    case 'openai-responses':
      return { error: { message, type, code: type } };
    case 'anthropic':
      return { type: 'error', error: { type, message } };
    case 'ollama':
      return { error: message };
  }
}

export const FINISH_WORD: Record<WireFormat, { stop: string; length: string; tool_calls: string }> = {
  openai: { stop: 'stop', length: 'length', tool_calls: 'tool_calls' },
  'openai-responses': { stop: 'completed', length: 'max_output_tokens', tool_calls: 'completed' },
  anthropic: { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' },
  ollama: { stop: 'stop', length: 'length', tool_calls: 'stop' },
};
