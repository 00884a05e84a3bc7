import { LlmClient, Redactor, countFound, describeFound, type Completion, type StreamEvent } from '../core';
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
  outputTokensPerSecond?: number;
  finishReason?: string;
  providerTimings?: Completion['timings'];
}

/**
 * Streams one answer to `out`, keeping the figures `--stats` prints. Retry
 * and failover notices go to `notice` (stderr), never into the answer.
 */
export async function runChat(
  args: ChatArgs,
  prompt: string,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  notice: (line: string) => void,
): Promise<ChatStats> {
  const client = new LlmClient({ timeouts: args.timeouts, retry: { maxAttempts: args.maxAttempts } });
  const stats = new StatsRecorder(args);
  const scrubbed = args.redact ? new Redactor().redact(prompt) : undefined;
  if (scrubbed && countFound(scrubbed.found)) notice(`redacted before sending: ${describeFound(scrubbed.found)}`);
  try {
    const events = client.stream(
      {
        messages: [{ role: 'user', content: scrubbed?.text ?? prompt }],
        system: args.system,
        maxTokens: args.maxTokens,
      },
      { endpoint: args.endpoint, signal },
    );
    for await (const event of events) {
      stats.observe(event);
      if (event.type === 'text') await write(out, event.text);
      else if (event.type === 'retry' || event.type === 'failover') notice(event.message);
    }
    return stats.finish();
  } catch (error) {
    stats.fail(error);
    throw Object.assign(error as Error, { stats: stats.finish() });
  } finally {
    // Destroys any socket still open, so an interrupted request stops at the server too.
    await client.close();
  }
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
    };
  }

  observe(event: StreamEvent): void {
    if (event.type === 'text' && this.firstTokenAt === undefined) {
      this.firstTokenAt = performance.now();
      this.stats.ttftMs = round(this.firstTokenAt - this.started);
    } else if (event.type === 'usage') {
      this.stats.inputTokens = event.inputTokens ?? this.stats.inputTokens;
      this.stats.outputTokens = event.outputTokens ?? this.stats.outputTokens;
    } else if (event.type === 'finish') {
      this.stats.finishReason = event.reason;
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
