/**
 * What a provider's batch API is to a batch run, whichever provider offers
 * it (OpenAI's Batch API, Anthropic's Message Batches): items go in under a
 * custom id, the provider runs them at its batch price within its completion
 * window, and each item's answer comes back under the same id.
 */
import { ProtocolError, describeSite, type ErrorSite } from '../../errors';
import type { Provider } from '../../providers/provider';
import { CompletionFolder } from '../../request/completion';
import type { ChatRequest, Completion } from '../../types';

/** Where a provider batch is, in OpenAI's words (Anthropic's states are mapped onto them). */
export type BatchState =
  'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** States after which nothing more will happen to a batch. */
export const FINAL_STATES: ReadonlySet<BatchState> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export interface ProviderBatch {
  id: string;
  state: BatchState;
  /** `failed` counts errored, expired and cancelled requests alike. */
  counts: { total: number; completed: number; failed: number };
  outputFileId?: string;
  errorFileId?: string;
  /** Why the batch as a whole failed (validation errors), when it did. */
  errors: string[];
}

/** One request of a batch, named so that its result can be matched to it. */
export interface BatchItem {
  customId: string;
  request: ChatRequest;
}

/** One item's outcome, read from the provider's results. */
export type ItemResult = { customId: string; completion: Completion } | { customId: string; error: string };

/** The requests of one provider batch, as the provider takes them. */
export interface BatchPayload {
  body: string;
  customIds: string[];
}

/** A provider's documented limits for one batch. */
export interface BatchLimits {
  requests: number;
  bytes: number;
}

/** One endpoint's batch API. */
export interface ProviderBatchApi {
  /** The items as payloads within the provider's limits: one provider batch each. */
  payloads(items: BatchItem[]): BatchPayload[];
  /** Creates a provider batch from a payload (uploading its file first where the provider needs one). */
  submit(payload: BatchPayload, label: string, signal?: AbortSignal): Promise<ProviderBatch>;
  get(batchId: string, signal?: AbortSignal): Promise<ProviderBatch>;
  /** Asks the provider to stop; requests it already ran are billed. */
  cancel(batchId: string, signal?: AbortSignal): Promise<ProviderBatch>;
  /** The results of a finished batch, by custom id. */
  results(batch: ProviderBatch, signal?: AbortSignal): Promise<ItemResult[]>;
}

/**
 * Encoded requests as the provider's payloads: groups of at most
 * `limits.requests` lines and `limits.bytes` bytes (each line counted with
 * one byte for its separator), each joined into one body by `bodyOf`.
 */
export function payloadsWithin(
  entries: { customId: string; line: string }[],
  limits: BatchLimits,
  bodyOf: (lines: string[]) => string,
): BatchPayload[] {
  const groups: (typeof entries)[] = [];
  let group: typeof entries = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.line) + 1;
    if (group.length && (group.length >= limits.requests || bytes + size > limits.bytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups.map((lines) => ({ body: bodyOf(lines.map((e) => e.line)), customIds: lines.map((e) => e.customId) }));
}

/** A count from a provider's answer; 0 where it gave none. */
export function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/**
 * The JSON lines of a results download, each with its custom id; a line
 * that is not JSON or names no custom id is the provider's fault, said so.
 */
export function resultLines<T>(text: string, site: ErrorSite): { customId: string; entry: T }[] {
  const lines: { customId: string; entry: T }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let entry: T & { custom_id?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch (cause) {
      throw new ProtocolError(`${describeSite(site)} sent a batch result line that is not JSON.`, { site, cause });
    }
    const customId = typeof entry.custom_id === 'string' ? entry.custom_id : undefined;
    if (!customId) throw new ProtocolError(`${describeSite(site)} sent a batch result without a custom_id.`, { site });
    lines.push({ customId, entry });
  }
  return lines;
}

/** An answer's whole body, read as the provider's wire format reads a completion. */
export function completionOf(wire: Provider, body: unknown, site: ErrorSite): Completion {
  const folder = new CompletionFolder();
  for (const event of wire.readCompletion(body, site)) folder.add(event);
  return folder.result();
}
