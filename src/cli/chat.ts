import { Redactor, countFound, describeFound, type Completion, type StreamEvent } from '../core';
import { startEngine } from './engine';
import type { ChatArgs } from './args';

export interface ChatStats {
  provider: string;
  retries: number;
  model: string;
  origin: string;
  ok: boolean;
  error?: string;
  requestId?: string;
  ttftMs?: number;
  totalMs: number;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  reasoningTokens?: number;
  outputTokensPerSecond?: number;
  /** Characters of answer text; 0 with a finish reason says the model answered some other way. */
  textLength: number;
  toolCalls: number;
  refused: boolean;
  finishReason?: string;
  providerTimings?: Completion['timings'];
}

/**
 * Streams one answer to `out`, keeping the figures `--stats` prints. Retry
 * and failover notices go to `notice` (stderr), never into the answer.
 * With `--json`, every event goes to `out` as one JSON line instead. With
 * `--reasoning show`, the model's reasoning streams to `thinking` (stderr).
 */
export async function runChat(
  args: ChatArgs,
  prompt: string,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  notice: (line: string) => void,
  thinking: (text: string) => void = () => {},
): Promise<ChatStats> {
  const engine = await startEngine(args, process.env, notice);
  const client = engine.client;
  const stats = new StatsRecorder(args);
  const scrubbed = args.redact ? new Redactor().redact(prompt) : undefined;
  if (scrubbed && countFound(scrubbed.found)) notice(`redacted before sending: ${describeFound(scrubbed.found)}`);
  try {
    const chunks = client.streamChunks(
      {
        messages: [{ role: 'user', content: scrubbed?.text ?? prompt }],
        system: args.system,
        maxTokens: args.maxTokens,
      },
      { endpoint: args.endpoint, signal },
    );
    const show = args.json ? jsonShow(out) : textShow(out, notice, args.reasoning === 'show' ? thinking : undefined);
    for await (const chunk of chunks) {
      for (const event of chunk) {
        stats.observe(event);
        await show(event);
      }
    }
    return stats.finish();
  } catch (error) {
    stats.fail(error);
    if (args.json) await write(out, `${JSON.stringify({ type: 'error', ...errorJson(error) })}\n`);
    throw Object.assign(error as Error, { stats: stats.finish() });
  } finally {
    // Destroys any socket still open, so an interrupted request stops at the server too.
    await engine.close();
  }
}

type Show = (event: StreamEvent) => Promise<void> | void;

/** Every event as one JSON line, for scripts; errors as their code and message. */
function jsonShow(out: NodeJS.WritableStream): Show {
  return (event) => {
    const line = 'error' in event ? { ...event, error: errorJson(event.error) } : event;
    return write(out, `${JSON.stringify(line)}\n`);
  };
}

function errorJson(error: unknown): { code: string; message: string } {
  const { code, message } = error as { code?: string; message?: string };
  return { code: code ?? 'ERROR', message: message ?? String(error) };
}

/**
 * The answer's text to stdout; the rest as notices on stderr: retries,
 * failovers, the tool calls the model asked for (the CLI runs none), a
 * refusal. Reasoning goes to `thinking` when shown, and is dropped otherwise.
 */
function textShow(out: NodeJS.WritableStream, notice: (line: string) => void, thinking?: (text: string) => void): Show {
  let thought = false;
  const refusal: string[] = [];
  return (event) => {
    switch (event.type) {
      case 'text':
        if (thought) thinking?.('\n');
        thought = false;
        return write(out, event.text);
      case 'reasoning':
        if (!thinking || !event.text) return;
        thought = true;
        return thinking(event.text);
      case 'toolCall':
        return notice(
          `the model asks to call ${event.call.name}(${event.call.arguments}); flowgate chat does not run tools.`,
        );
      case 'refusal':
        refusal.push(event.text);
        return;
      case 'finish':
        // Said once, whole, rather than a notice per streamed piece.
        if (refusal.length) notice(`the model refused: ${refusal.join('')}`);
        return;
      case 'retry':
      case 'failover':
        return notice(event.message);
      default:
        return;
    }
  };
}

/** Writes with backpressure; a closed output (the reader went away) ends the wait too. */
function write(out: NodeJS.WritableStream, text: string): Promise<void> | void {
  if (out.write(text)) return;
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done).off('close', done);
      resolve();
    };
    out.on('drain', done).on('close', done);
  });
}

class StatsRecorder {
  private readonly started = performance.now();
  private firstTokenAt: number | undefined;
  private readonly stats: ChatStats;

  constructor(args: ChatArgs) {
    this.stats = {
      provider: args.endpoint.provider,
      model: args.endpoint.model,
      origin: args.origin,
      ok: true,
      retries: 0,
      totalMs: 0,
      textLength: 0,
      toolCalls: 0,
      refused: false,
    };
  }

  observe(event: StreamEvent): void {
    if (event.type === 'text') {
      this.stats.textLength += event.text.length;
      this.firstTokenAt ??= performance.now();
      this.stats.ttftMs ??= round(this.firstTokenAt - this.started);
    } else if (event.type === 'toolCall') {
      this.stats.toolCalls++;
    } else if (event.type === 'refusal') {
      this.stats.refused = true;
    } else if (event.type === 'usage') {
      this.stats.inputTokens = event.inputTokens ?? this.stats.inputTokens;
      this.stats.outputTokens = event.outputTokens ?? this.stats.outputTokens;
      this.stats.cachedInputTokens = event.cachedInputTokens ?? this.stats.cachedInputTokens;
      this.stats.reasoningTokens = event.reasoningTokens ?? this.stats.reasoningTokens;
    } else if (event.type === 'finish') {
      this.stats.finishReason = event.reason;
      if (event.reason === 'refusal') this.stats.refused = true;
    } else if (event.type === 'timings') {
      this.stats.providerTimings = event.timings;
    } else if (event.type === 'response') {
      this.stats.requestId = event.requestId;
    } else if (event.type === 'retry') {
      this.stats.retries++;
    }
  }

  fail(error: unknown): void {
    this.stats.ok = false;
    this.stats.error = (error as { code?: string }).code ?? 'ERROR';
  }

  finish(): ChatStats {
    const now = performance.now();
    this.stats.totalMs = round(now - this.started);
    const { outputTokens } = this.stats;
    if (outputTokens && this.firstTokenAt !== undefined && now > this.firstTokenAt) {
      this.stats.outputTokensPerSecond = round((outputTokens / (now - this.firstTokenAt)) * 1000);
    }
    return this.stats;
  }
}

const round = (value: number): number => Math.round(value * 10) / 10;
