/**
 * What VS Code's chat (and other extensions through vscode.lm) asked of
 * Flowgate this session, so the status bar and Show Metrics can say which
 * requests came from there. The engine's own metrics count them with the
 * rest, per endpoint. No vscode import; tested directly.
 */
import { formatCost } from '../../core';
import type { Translate } from '../monitor/status-format';

export class ChatUsage {
  requests = 0;
  running = 0;
  succeeded = 0;
  failed = 0;
  cancelled = 0;
  inputTokens = 0;
  outputTokens = 0;
  /** Dollars, for the requests whose model has a price. */
  cost = 0;
  private readonly listeners = new Set<() => void>();

  onChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  started(): void {
    this.requests++;
    this.running++;
    this.changed();
  }

  finished(
    outcome: 'ok' | 'failed' | 'cancelled',
    usage: { inputTokens?: number; outputTokens?: number; cost?: number },
  ): void {
    this.running--;
    if (outcome === 'ok') this.succeeded++;
    else if (outcome === 'failed') this.failed++;
    else this.cancelled++;
    this.inputTokens += usage.inputTokens ?? 0;
    this.outputTokens += usage.outputTokens ?? 0;
    this.cost += usage.cost ?? 0;
    this.changed();
  }

  /** "VS Code chat: 12 requests (1 running, 1 failed), 20,480 tokens in, 1,024 out, $0.0123", or undefined before the first. */
  summary(t: Translate): string | undefined {
    if (!this.requests) return undefined;
    const states = [
      this.running ? t('{0} running', this.running) : '',
      this.failed ? t('{0} failed', this.failed) : '',
      this.cancelled ? t('{0} stopped', this.cancelled) : '',
    ].filter(Boolean);
    const counts = states.length ? ` (${states.join(', ')})` : '';
    const cost = this.cost ? `, ${formatCost(this.cost)}` : '';
    return t(
      "VS Code's chat: {0} requests{1}, {2} tokens in, {3} out{4}",
      this.requests,
      counts,
      this.inputTokens.toLocaleString('en-US'),
      this.outputTokens.toLocaleString('en-US'),
      cost,
    );
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
