import type { Completion, StreamEvent } from '../types';

/** Folds a stream of events into one Completion. Later usage figures fill in earlier ones. */
export async function collect(
  events: AsyncIterable<StreamEvent>,
  onText?: (text: string) => void,
): Promise<Completion> {
  const folder = new CompletionFolder(onText);
  for await (const event of events) folder.add(event);
  return folder.result();
}

/** The same, over batches of events, without a hand-off per event. */
export async function collectBatches(batches: AsyncIterable<StreamEvent[]>): Promise<Completion> {
  const folder = new CompletionFolder();
  for await (const batch of batches) for (const event of batch) folder.add(event);
  return folder.result();
}

export class CompletionFolder {
  private readonly completion: Completion = { text: '', usage: {} };
  private readonly parts: string[] = [];

  constructor(private readonly onText?: (text: string) => void) {}

  result(): Completion {
    this.completion.text = this.parts.join('');
    return this.completion;
  }

  add(event: StreamEvent): void {
    const { completion, parts, onText } = this;
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
}
