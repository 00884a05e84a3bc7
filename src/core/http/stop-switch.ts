/**
 * How one attempt is stopped (a timeout, the caller's cancel): the reason,
 * and the one exchange to tell. An AbortController would do the same with
 * an EventTarget, a signal object and listener bookkeeping on every request.
 */
export class StopSwitch {
  private why: Error | undefined;
  private listener: ((reason: Error) => void) | undefined;

  /** Why it was stopped, or undefined while it runs. */
  get reason(): Error | undefined {
    return this.why;
  }

  /** Stops it; only the first reason counts. */
  stop(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
  }

  /** The one listener (undefined removes it), called once if it is stopped. */
  onStop(listener: ((reason: Error) => void) | undefined): void {
    this.listener = listener;
  }
}
