/**
 * Anthropic's Message Batches API: the requests of a run as one `requests`
 * array of `{custom_id, params}`, each `params` exactly the Messages API body
 * a live run would send, without `stream`. A batch is `in_progress`, then
 * `canceling` or straight `ended`; its results are a JSONL download with
 * one `succeeded`, `errored`, `canceled` or `expired` result per request.
 * https://docs.anthropic.com/en/docs/build-with-claude/batch-processing
 */
import type { ErrorSite } from '../../errors';
import type { SecretScrubber } from '../../guards/secrets';
import type { PoolRegistry } from '../../http/pools';
import { ANTHROPIC_VERSION, anthropic } from '../../providers/anthropic';
import { withExtraHeaders } from '../../providers/extras';
import type { Endpoint } from '../../types';
import { BatchHttp } from './batch-http';
import {
  completionOf,
  count,
  payloadsWithin,
  resultLines,
  type BatchItem,
  type BatchLimits,
  type BatchPayload,
  type BatchState,
  type ItemResult,
  type ProviderBatch,
  type ProviderBatchApi,
} from './provider-batch';

/** Anthropic's documented limits for one batch: 100,000 requests and 256 MB. */
export const ANTHROPIC_BATCH_LIMITS: BatchLimits = { requests: 100_000, bytes: 256 * 1024 * 1024 };

/** The body of `POST /v1/messages/batches` for the items, split within the limits. */
export function batchRequests(endpoint: Endpoint, items: BatchItem[], limits = ANTHROPIC_BATCH_LIMITS): BatchPayload[] {
  const entries = items.map(({ customId, request }) => {
    const { stream: _stream, ...params } = JSON.parse(anthropic.encode(endpoint, request, false).body) as Record<
      string,
      unknown
    >;
    return { customId, line: JSON.stringify({ custom_id: customId, params }) };
  });
  // Each request costs its bytes and a comma in the array.
  return payloadsWithin(entries, limits, (group) => `{"requests":[${group.join(',')}]}`);
}

/** The Message Batches endpoints of one Anthropic endpoint. */
export class AnthropicBatches implements ProviderBatchApi {
  private readonly http: BatchHttp;

  constructor(
    private readonly endpoint: Endpoint,
    pools: PoolRegistry,
    scrubber: SecretScrubber,
    timeoutMs?: number,
  ) {
    const own: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (endpoint.apiKey) own['x-api-key'] = endpoint.apiKey;
    this.http = new BatchHttp(endpoint, pools, scrubber, withExtraHeaders(endpoint, own), timeoutMs);
  }

  payloads(items: BatchItem[]): BatchPayload[] {
    return batchRequests(this.endpoint, items);
  }

  async submit(payload: BatchPayload, _label: string, signal?: AbortSignal): Promise<ProviderBatch> {
    return this.batchOf(await this.http.json('POST', '/v1/messages/batches', payload.body, 'application/json', signal));
  }

  async get(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    const route = `/v1/messages/batches/${encodeURIComponent(batchId)}`;
    return this.batchOf(await this.http.json('GET', route, undefined, undefined, signal));
  }

  async cancel(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    const route = `/v1/messages/batches/${encodeURIComponent(batchId)}/cancel`;
    return this.batchOf(await this.http.json('POST', route, undefined, undefined, signal));
  }

  /**
   * The results, always read from the endpoint's own results route rather
   * than the `results_url` the answer names: the key goes nowhere else.
   */
  async results(batch: ProviderBatch, signal?: AbortSignal): Promise<ItemResult[]> {
    const route = `/v1/messages/batches/${encodeURIComponent(batch.id)}/results`;
    return parseAnthropicResults(await this.http.text('GET', route, undefined, undefined, signal), this.http.site);
  }

  private batchOf(value: unknown): ProviderBatch {
    const raw = (value ?? {}) as Record<string, unknown>;
    const id = this.http.idOf(raw, 'message batch');
    const counts = (raw.request_counts ?? {}) as Record<string, unknown>;
    const failed = count(counts.errored) + count(counts.canceled) + count(counts.expired);
    const completed = count(counts.succeeded);
    return {
      id,
      state: stateOf(raw),
      counts: { total: completed + failed + count(counts.processing), completed, failed },
      errors: [],
    };
  }
}

/** Anthropic's three processing states, in the words the run reports for every provider. */
function stateOf(raw: Record<string, unknown>): BatchState {
  switch (raw.processing_status) {
    case 'in_progress':
      return 'in_progress';
    case 'canceling':
      return 'cancelling';
    case 'ended':
      return raw.cancel_initiated_at ? 'cancelled' : 'completed';
    default:
      return String(raw.processing_status) as BatchState;
  }
}

/** Why a request that did not succeed has no answer, in words a person can act on. */
const NOT_RUN: Record<string, string> = {
  canceled: 'This request was not run because the batch was cancelled.',
  expired: 'This request could not be run before the batch expired (24 hours); run the job again to send it.',
};

/** The lines of a results download, one ItemResult each. */
export function parseAnthropicResults(text: string, site: ErrorSite): ItemResult[] {
  type Entry = { result?: { type?: unknown; message?: unknown; error?: unknown } };
  return resultLines<Entry>(text, site).map(({ customId, entry }): ItemResult => {
    const type = String(entry.result?.type);
    if (type === 'succeeded') return { customId, completion: completionOf(anthropic, entry.result?.message, site) };
    if (type === 'errored') return { customId, error: erroredMessage(entry.result?.error) };
    return { customId, error: NOT_RUN[type] ?? `the provider reported "${type}" for this request` };
  });
}

/** An errored result's error: `{type: "error", error: {type, message}}`. */
function erroredMessage(error: unknown): string {
  const inner = (error as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
  const message = typeof inner?.message === 'string' ? inner.message : 'no message';
  return typeof inner?.type === 'string' ? `${inner.type}: ${message}` : message;
}
