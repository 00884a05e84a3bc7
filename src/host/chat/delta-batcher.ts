/**
 * Gathers streamed text and hands it on at most once per interval, so a
 * fast stream becomes about 30 posts a second however many tokens arrive.
 * Only the new text is sent, never the whole answer again.
 */
export class DeltaBatcher {
  private pending: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly flushTo: (text: string) => void,
    private readonly intervalMs = 33,
  ) {}

  push(text: string): void {
    this.pending.push(text);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Sends what is pending now (before a notice or the end of the answer). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.flushTo(text);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}
