import type { FinishReason, StreamEvent } from '../../core';
import type { ChatTurn, HostToWebview, NotableFinish } from '../../protocol';
import { DeltaBatcher } from './delta-batcher';

const NOTABLE: ReadonlySet<FinishReason> = new Set<FinishReason>(['length', 'content_filter', 'refusal', 'tool_calls']);

/**
 * A turn's output besides its answer text: reasoning (kept, and posted in
 * batches when the panel shows it), the tool calls the model asked for, a
 * refusal, and an ending worth telling the user about.
 */
export class TurnOutput {
  private readonly reasoning: DeltaBatcher;

  constructor(
    private readonly turn: ChatTurn,
    private readonly post: (message: HostToWebview) => void,
    showReasoning: boolean,
  ) {
    this.reasoning = new DeltaBatcher((text) => {
      if (showReasoning) post({ type: 'reasoning', id: turn.id, text });
    });
  }

  /** Takes the events it is about; false for the rest. */
  apply(event: StreamEvent): boolean {
    const { turn } = this;
    switch (event.type) {
      case 'reasoning':
        if (!event.text) return true;
        turn.reasoning = (turn.reasoning ?? '') + event.text;
        this.reasoning.push(event.text);
        return true;
      case 'toolCall': {
        const call = { name: event.call.name, arguments: event.call.arguments };
        (turn.toolCalls ??= []).push(call);
        this.post({ type: 'toolCall', id: turn.id, call });
        return true;
      }
      case 'refusal':
        turn.refusal = (turn.refusal ?? '') + event.text;
        this.post({ type: 'refusal', id: turn.id, text: turn.refusal });
        return true;
      case 'finish':
        if (NOTABLE.has(event.reason)) turn.finish = event.reason as NotableFinish;
        return true;
      default:
        return false;
    }
  }

  /** Sends any reasoning still held back: before the answer's first text, and at the end. */
  flush(): void {
    this.reasoning.flush();
  }

  dispose(): void {
    this.reasoning.dispose();
  }
}
