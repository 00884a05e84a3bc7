import type { StreamEvent, ToolCall } from '../types';

/**
 * Builds whole tool calls from streamed pieces. Providers stream a call as
 * a first piece with its id and name, then argument text in fragments, all
 * under one index; parallel calls interleave by index. Each piece is passed
 * on as a `toolCallDelta` at once, and `complete()` gives the finished calls
 * when the provider says they are done.
 */
export class ToolCallAssembler {
  private readonly open = new Map<number, { id: string; name: string; parts: string[] }>();

  /** One streamed piece; returns the event that passes it on. */
  piece(index: number, id: string | undefined, name: string | undefined, args: string): StreamEvent {
    const call = this.open.get(index) ?? { id: '', name: '', parts: [] };
    if (id) call.id = id;
    if (name && !call.name) call.name = name;
    if (args) call.parts.push(args);
    this.open.set(index, call);
    return { type: 'toolCallDelta', index, ...(id ? { id } : {}), ...(name ? { name } : {}), arguments: args };
  }

  /** Every call still open, finished, in index order; the assembler is then empty. */
  complete(): StreamEvent[] {
    const done = [...this.open.entries()].sort(([a], [b]) => a - b).map(([index, call]) => finished(index, call));
    this.open.clear();
    return done;
  }

  /**
   * Finishes only the call at `index` (Anthropic closes each block on its
   * own). `whole` is the complete argument text when the provider repeats it
   * at the end; it stands in for pieces that never came (LM Studio sends the
   * arguments only there).
   */
  completeOne(index: number, whole?: string): StreamEvent[] {
    const call = this.open.get(index);
    if (!call) return [];
    if (whole !== undefined && call.parts.length === 0) call.parts.push(whole);
    this.open.delete(index);
    return [finished(index, call)];
  }
}

function finished(index: number, call: { id: string; name: string; parts: string[] }): StreamEvent {
  // A call without an id (some local servers omit it) gets one, so its result can be matched to it.
  const whole: ToolCall = { id: call.id || `call_${index}`, name: call.name, arguments: call.parts.join('') || '{}' };
  return { type: 'toolCall', call: whole };
}
