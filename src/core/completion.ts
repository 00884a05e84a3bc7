import type { Completion, StreamEvent } from './types';

/** Folds a stream of events into one Completion. Later usage figures fill in earlier ones. */
export async function collect(events: AsyncIterable<StreamEvent>, onText?: (text: string) => void): Promise<Completion> {
  const completion: Completion = { text: '', usage: {} };
  const parts: string[] = [];
  for await (const event of events) {
    switch (event.type) {
      case 'text':
        parts.push(event.text);
        onText?.(event.text);
        break;
      case 'usage':
        completion.usage = {
          inputTokens: event.inputTokens ?? completion.usage.inputTokens,
          outputTokens: event.outputTokens ?? completion.usage.outputTokens,
        };
        break;
      case 'finish':
        completion.finishReason = event.reason;
        completion.providerReason = event.providerReason;
        break;
      case 'timings':
        completion.timings = event.timings;
        break;
      case 'response':
        completion.requestId = event.requestId;
        break;
    }
  }
  completion.text = parts.join('');
  return completion;
}
