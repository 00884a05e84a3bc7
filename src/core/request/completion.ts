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
  private readonly reasoning: string[] = [];
  private readonly refusal: string[] = [];

  constructor(private readonly onText?: (text: string) => void) {}

  result(): Completion {
    const { completion } = this;
    completion.text = this.parts.join('');
    if (this.reasoning.length) (completion.reasoning ??= { text: '' }).text = this.reasoning.join('');
    if (this.refusal.length) completion.refusal = this.refusal.join('');
    // Anthropic refuses by its stop reason; what the model said before it stopped is the explanation.
    else if (completion.finishReason === 'refusal' && completion.text) completion.refusal = completion.text;
    return completion;
  }

  add(event: StreamEvent): void {
    const { completion } = this;
    switch (event.type) {
      case 'text':
        this.parts.push(event.text);
        this.onText?.(event.text);
        break;
      case 'reasoning':
        this.addReasoning(event);
        break;
      case 'toolCall':
        (completion.toolCalls ??= []).push(event.call);
        break;
      case 'refusal':
        this.refusal.push(event.text);
        break;
      case 'usage': {
        const { type: _, ...figures } = event;
        completion.usage = { ...completion.usage, ...definedOnly(figures) };
        break;
      }
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

  private addReasoning(event: Extract<StreamEvent, { type: 'reasoning' }>): void {
    if (event.text) this.reasoning.push(event.text);
    if (!event.signature && !event.redacted) return;
    const reasoning = (this.completion.reasoning ??= { text: '' });
    if (event.signature) reasoning.signature = event.signature;
    if (event.redacted) (reasoning.redacted ??= []).push(event.redacted);
  }
}

/** Later usage figures fill in earlier ones; a figure the provider left out does not erase one it gave. */
export function definedOnly<T extends object>(figures: T): Partial<T> {
  return Object.fromEntries(Object.entries(figures).filter(([, value]) => value !== undefined)) as Partial<T>;
}
