/**
 * OpenAI's Batch API (and OpenAI-compatible servers with `/v1/files` and
 * `/v1/batches`): the requests of a run as one JSONL file, uploaded, run by
 * the provider at its batch price within its completion window, and read
 * back by `custom_id`. This module speaks the wire; the runner decides when.
 * https://platform.openai.com/docs/guides/batch
 */
import { endpointOrigin } from '../../endpoint';
import { CancelledError, ProtocolError, describeSite, type ErrorSite } from '../../errors';
import type { SecretScrubber } from '../../guards/secrets';
import type { PoolRegistry } from '../../http/pools';
import { flattenHeaders } from '../../http/send';
import { ResponseBody } from '../../http/response-body';
import { readHttpError } from '../../request/http-errors';
import { toNetworkError } from '../../request/network-errors';
import { keyHeader, openai } from '../../providers/openai';
import { joinPath, parsedUrl } from '../../providers/provider';
import { CompletionFolder } from '../../request/completion';
import type { ChatRequest, Completion, Endpoint } from '../../types';

/** OpenAI's documented limits for one batch: 50,000 requests and a 200 MB input file. */
export const OPENAI_BATCH_LIMITS = { requests: 50_000, bytes: 200 * 1024 * 1024 };

/** Where a provider batch is, in OpenAI's words. */
export type BatchState =
  'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** States after which nothing more will happen to a batch. */
export const FINAL_STATES: ReadonlySet<BatchState> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export interface ProviderBatch {
  id: string;
  state: BatchState;
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

/** One item's outcome, read from the output or the error file. */
export type ItemResult = { customId: string; completion: Completion } | { customId: string; error: string };

/**
 * Splits items into provider batches within the limits, and writes each as
 * the JSONL the Batch API takes: one `{custom_id, method, url, body}` per
 * line, the body exactly as a live run would send it, without `stream`.
 */
export function requestFiles(endpoint: Endpoint, items: BatchItem[], limits = OPENAI_BATCH_LIMITS): string[] {
  const url = `${parsedUrl(endpoint.baseUrl).pathname.replace(/\/+$/, '')}/chat/completions`;
  const files: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  for (const { customId, request } of items) {
    const body: unknown = JSON.parse(openai.encode(endpoint, request, false).body);
    const line = JSON.stringify({ custom_id: customId, method: 'POST', url, body });
    const size = Buffer.byteLength(line) + 1;
    if (lines.length && (lines.length >= limits.requests || bytes + size > limits.bytes)) {
      files.push(lines.join('\n') + '\n');
      lines = [];
      bytes = 0;
    }
    lines.push(line);
    bytes += size;
  }
  if (lines.length) files.push(lines.join('\n') + '\n');
  return files;
}

/** The Files and Batches endpoints of one OpenAI endpoint. */
export class OpenAiBatches {
  private readonly site: ErrorSite;
  private readonly origin: string;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly pools: PoolRegistry,
    private readonly scrubber: SecretScrubber,
    /** Each API call's limit, connect to last byte. */
    private readonly timeoutMs = 60_000,
  ) {
    this.origin = endpointOrigin(endpoint);
    this.site = { provider: 'openai', origin: this.origin };
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
    const file = await this.call('POST', '/files', body, `multipart/form-data; boundary=${boundary}`, signal);
    return this.idOf(file, 'file');
  }

  async create(inputFileId: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<ProviderBatch> {
    const body = JSON.stringify({
      input_file_id: inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata,
    });
    return this.batchOf(await this.call('POST', '/batches', body, 'application/json', signal));
  }

  async get(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    return this.batchOf(
      await this.call('GET', `/batches/${encodeURIComponent(batchId)}`, undefined, undefined, signal),
    );
  }

  /** Asks the provider to stop; requests it already ran are billed. */
  async cancel(batchId: string, signal?: AbortSignal): Promise<ProviderBatch> {
    const path = `/batches/${encodeURIComponent(batchId)}/cancel`;
    return this.batchOf(await this.call('POST', path, undefined, undefined, signal));
  }

  /** The results of a finished batch: its output file and its error file, by custom id. */
  async results(batch: ProviderBatch, signal?: AbortSignal): Promise<ItemResult[]> {
    const files = [batch.outputFileId, batch.errorFileId].filter((id): id is string => Boolean(id));
    const texts = await Promise.all(files.map((id) => this.fileText(id, signal)));
    return texts.flatMap((text) => parseResultLines(text, this.site));
  }

  private fileText(fileId: string, signal?: AbortSignal): Promise<string> {
    return this.send('GET', `/files/${encodeURIComponent(fileId)}/content`, undefined, undefined, signal);
  }

  private async call(
    method: 'GET' | 'POST',
    route: string,
    body?: string,
    contentType?: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const text = await this.send(method, route, body, contentType, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new ProtocolError(
        `${describeSite(this.site)} answered ${method} ${route} with something that is not JSON; check that it offers OpenAI's Batch API.`,
        { site: this.site, cause },
      );
    }
  }

  /** One API call; its answer's text, scrubbed of the endpoint's secrets, or the error it answered with. */
  private async send(
    method: 'GET' | 'POST',
    route: string,
    body: string | undefined,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    if (this.endpoint.apiKey) Object.assign(headers, keyHeader(this.endpoint));
    const connectMs = Math.min(this.timeoutMs, 10_000);
    const dispatcher = this.pools.get(this.origin, connectMs, this.endpoint.http2);
    let status: number;
    let responseHeaders: Record<string, string>;
    let text: string;
    try {
      const response = await dispatcher.request({
        origin: this.origin,
        method,
        path: joinPath(this.endpoint.baseUrl, route),
        headers,
        body,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = flattenHeaders(response.headers);
      text = this.scrubber.scrub(await response.body.text());
    } catch (error) {
      if (signal?.aborted) throw new CancelledError({ site: this.site });
      throw toNetworkError(error, this.site, true, connectMs);
    }
    if (status < 300) return text;
    throw await readHttpError({ status, headers: responseHeaders, body: bodyOf(text) }, this.site, this.scrubber);
  }

  private idOf(value: unknown, what: string): string {
    const id = (value as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string' && id) return id;
    throw new ProtocolError(`${describeSite(this.site)} answered the ${what} upload without an id.`, {
      site: this.site,
    });
  }

  private batchOf(value: unknown): ProviderBatch {
    const raw = (value ?? {}) as Record<string, unknown>;
    const id = this.idOf(raw, 'batch');
    const counts = (raw.request_counts ?? {}) as Record<string, unknown>;
    const number = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
    const errors = ((raw.errors as { data?: { message?: unknown }[] } | null)?.data ?? [])
      .map((e) => (typeof e.message === 'string' ? e.message : ''))
      .filter(Boolean);
    return {
      id,
      state: String(raw.status) as BatchState,
      counts: { total: number(counts.total), completed: number(counts.completed), failed: number(counts.failed) },
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
export function parseResultLines(text: string, site: ErrorSite): ItemResult[] {
  const results: ItemResult[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let entry: { custom_id?: unknown; response?: { status_code?: unknown; body?: unknown } | null; error?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch (cause) {
      throw new ProtocolError(`${describeSite(site)} sent a batch result line that is not JSON.`, { site, cause });
    }
    const customId = typeof entry.custom_id === 'string' ? entry.custom_id : undefined;
    if (!customId) throw new ProtocolError(`${describeSite(site)} sent a batch result without a custom_id.`, { site });
    results.push(resultOf(customId, entry.response ?? undefined, entry.error, site));
  }
  return results;
}

function resultOf(
  customId: string,
  response: { status_code?: unknown; body?: unknown } | undefined,
  error: unknown,
  site: ErrorSite,
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
  const folder = new CompletionFolder();
  for (const event of openai.readCompletion(response.body, site)) folder.add(event);
  return { customId, completion: folder.result() };
}

/** A body already read, as the error reader takes it. */
function bodyOf(text: string): ResponseBody {
  const body = new ResponseBody({ pause() {}, resume() {}, abort() {} });
  body.push(Buffer.from(text));
  body.end();
  return body;
}
