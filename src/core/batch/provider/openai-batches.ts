/**
 * OpenAI's Batch API (and OpenAI-compatible servers with `/v1/files` and
 * `/v1/batches`): the requests of a run as one JSONL file, uploaded, run by
 * the provider at its batch price within its completion window, and read
 * back by `custom_id`. This module speaks the wire; the runner decides when.
 * https://platform.openai.com/docs/guides/batch
 */
import type { ErrorSite } from '../../errors';
import type { SecretScrubber } from '../../guards/secrets';
import type { PoolRegistry } from '../../http/pools';
import { withExtraHeaders } from '../../providers/extras';
import { keyHeader, openai } from '../../providers/openai';
import { openaiResponses } from '../../providers/openai-responses';
import type { Provider } from '../../providers/provider';
import { parsedUrl } from '../../providers/provider';
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

/** OpenAI's documented limits for one batch: 50,000 requests and a 200 MB input file. */
export const OPENAI_BATCH_LIMITS: BatchLimits = { requests: 50_000, bytes: 200 * 1024 * 1024 };

/**
 * Splits items into provider batches within the limits, and writes each as
 * the JSONL the Batch API takes: one `{custom_id, method, url, body}` per
 * line, the body exactly as a live run would send it, without `stream`.
 */
export function requestFiles(endpoint: Endpoint, items: BatchItem[], limits = OPENAI_BATCH_LIMITS): BatchPayload[] {
  const { wire, route } = apiOf(endpoint);
  const url = `${parsedUrl(endpoint.baseUrl).pathname.replace(/\/+$/, '')}${route}`;
  const lines = items.map(({ customId, request }) => {
    const body: unknown = JSON.parse(wire.encode(endpoint, request, false).body);
    return { customId, line: JSON.stringify({ custom_id: customId, method: 'POST', url, body }) };
  });
  return payloadsWithin(lines, limits, (group) => group.join('\n') + '\n');
}

/** The API a batch's requests go to: Chat Completions, or the Responses API for an `openai-responses` endpoint. */
function apiOf(endpoint: Pick<Endpoint, 'provider'>): { wire: Provider; route: '/chat/completions' | '/responses' } {
  return endpoint.provider === 'openai-responses'
    ? { wire: openaiResponses, route: '/responses' }
    : { wire: openai, route: '/chat/completions' };
}

/** The Files and Batches endpoints of one OpenAI endpoint. */
export class OpenAiBatches implements ProviderBatchApi {
  private readonly http: BatchHttp;

  constructor(
    private readonly endpoint: Endpoint,
    pools: PoolRegistry,
    scrubber: SecretScrubber,
    timeoutMs?: number,
  ) {
    const auth = endpoint.apiKey ? keyHeader(endpoint) : {};
    this.http = new BatchHttp(endpoint, pools, scrubber, withExtraHeaders(endpoint, auth), timeoutMs);
  }

  payloads(items: BatchItem[]): BatchPayload[] {
    return requestFiles(this.endpoint, items);
  }

  async submit(payload: BatchPayload, label: string, signal?: AbortSignal): Promise<ProviderBatch> {
    const fileId = await this.upload(payload.body, `${label}.jsonl`, signal);
    return this.create(fileId, { flowgate_job: label }, signal);
  }

  /** Uploads a request file (purpose `batch`); returns its file id. */
  async upload(jsonl: string, filename: string, signal?: AbortSignal): Promise<string> {
    const boundary = `flowgate-${Math.random().toString(36).slice(2)}`;
    const body = [
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/jsonl\r\n\r\n`,
      jsonl,
      `\r\n--${boundary}--\r\n`,
    ].join('');
    const file = await this.http.json('POST', '/files', body, `multipart/form-data; boundary=${boundary}`, signal);
    return this.http.idOf(file, 'file upload');
  }

  async create(inputFileId: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<ProviderBatch> {
    const body = JSON.stringify({
      input_file_id: inputFileId,
      endpoint: `/v1${apiOf(this.endpoint).route}`,
      completion_window: '24h',
      metadata,
    });
    return this.batchOf(await this.http.json('POST', '/batches', body, 'application/json', signal));
  }

  async get(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    return this.batchOf(
      await this.http.json('GET', `/batches/${encodeURIComponent(batchId)}`, undefined, undefined, signal),
    );
  }

  async cancel(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    const path = `/batches/${encodeURIComponent(batchId)}/cancel`;
    return this.batchOf(await this.http.json('POST', path, undefined, undefined, signal));
  }

  /** The results of a finished batch: its output file and its error file, by custom id. */
  async results(batch: ProviderBatch, signal?: AbortSignal): Promise<ItemResult[]> {
    const files = [batch.outputFileId, batch.errorFileId].filter((id): id is string => Boolean(id));
    const texts = await Promise.all(
      files.map((id) =>
        this.http.text('GET', `/files/${encodeURIComponent(id)}/content`, undefined, undefined, signal),
      ),
    );
    return texts.flatMap((text) => parseResultLines(text, this.http.site, apiOf(this.endpoint).wire));
  }

  private batchOf(value: unknown): ProviderBatch {
    const raw = (value ?? {}) as Record<string, unknown>;
    const id = this.http.idOf(raw, 'batch');
    const counts = (raw.request_counts ?? {}) as Record<string, unknown>;
    const errors = ((raw.errors as { data?: { message?: unknown }[] } | null)?.data ?? [])
      .map((e) => (typeof e.message === 'string' ? e.message : ''))
      .filter(Boolean);
    return {
      id,
      state: String(raw.status) as BatchState,
      counts: { total: count(counts.total), completed: count(counts.completed), failed: count(counts.failed) },
      outputFileId: typeof raw.output_file_id === 'string' ? raw.output_file_id : undefined,
      errorFileId: typeof raw.error_file_id === 'string' ? raw.error_file_id : undefined,
      errors,
    };
  }
}

/**
 * The lines of an output or error file. A line carries either the
 * response (`status_code` and the body a live request would have had) or
 * an `error` (expired, cancelled); either way it becomes one ItemResult.
 */
export function parseResultLines(text: string, site: ErrorSite, wire: Provider = openai): ItemResult[] {
  type Entry = { response?: { status_code?: unknown; body?: unknown } | null; error?: unknown };
  return resultLines<Entry>(text, site).map(({ customId, entry }) =>
    resultOf(customId, entry.response ?? undefined, entry.error, site, wire),
  );
}

function resultOf(
  customId: string,
  response: { status_code?: unknown; body?: unknown } | undefined,
  error: unknown,
  site: ErrorSite,
  wire: Provider,
): ItemResult {
  const message = (value: unknown): string | undefined => {
    const object = value as { message?: unknown; error?: { message?: unknown } } | null | undefined;
    const text = object?.error?.message ?? object?.message;
    return typeof text === 'string' ? text : undefined;
  };
  if (error) return { customId, error: message(error) ?? 'the provider reported an error for this request' };
  if (!response) return { customId, error: 'the provider returned no response for this request' };
  const status = typeof response.status_code === 'number' ? response.status_code : 0;
  if (status < 200 || status >= 300)
    return { customId, error: `answered ${status}: ${message(response.body) ?? 'no message'}` };
  return { customId, completion: completionOf(wire, response.body, site) };
}
