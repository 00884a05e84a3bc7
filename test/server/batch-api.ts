/**
 * The providers' batch APIs, as documented. OpenAI's Files and Batches
 * (https://platform.openai.com/docs/api-reference/batch): upload a JSONL
 * file, create a batch from it, watch it go validating, in_progress,
 * finalizing, completed (or expired, cancelled, failed), and download its
 * output and error files. Anthropic's Message Batches
 * (https://docs.anthropic.com/en/api/creating-message-batches): post the
 * requests, watch processing_status go in_progress, canceling, ended, and
 * download one result per request. Time is counted in polls, so tests need
 * not wait for a 24-hour window: each GET of a batch moves it one step.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, wholeBody, type Usage, type WireFormat } from './wire';

/** How batches progress, in polls. */
export interface BatchPace {
  /** Items finished per poll while in progress. @default all of them */
  itemsPerPoll?: number;
  /** After this many polls in progress, the batch expires with what is unfinished. */
  expireAfterPolls?: number;
  /** Fails validation with this message (a malformed file, a model the batch API does not offer). */
  failValidation?: string;
  /** Done as soon as it is created: the first poll finds it completed (for the slow polls of the E2E suite). */
  instant?: boolean;
  /** The first this-many polls are answered 429 with retry-after-ms: the endpoint's rate limit. */
  throttledPolls?: number;
  /** The wait those 429s ask for. @default 50 */
  retryAfterMs?: number;
}

/** What one item of a batch is answered with: the text, or an error status and message. */
export type ItemAnswer = { text: string; usage?: Usage } | { status: number; message: string };

interface StoredFile {
  id: string;
  purpose: string;
  filename: string;
  content: string;
}

interface Batch {
  id: string;
  format: 'openai' | 'anthropic';
  inputFileId: string;
  endpoint: string;
  status: string;
  lines: { custom_id: string; body: Record<string, unknown> }[];
  done: number;
  pollsInProgress: number;
  outputFileId?: string;
  errorFileId?: string;
  createdAt: number;
  errors?: string;
  cancelInitiated?: boolean;
  /** Anthropic: the results download, once the batch has ended. */
  results?: string;
  /** Each item's answer, fixed when it is run (so counts and results agree). */
  answers: ItemAnswer[];
}

export class BatchApi {
  readonly files = new Map<string, StoredFile>();
  readonly batches = new Map<string, Batch>();
  /** Batches created so far: a resumed run must not add one. */
  created = 0;
  /** Every call to these endpoints, with the credentials it carried. */
  readonly calls: { method: string; path: string; headers: IncomingMessage['headers'] }[] = [];
  pace: BatchPace = {};
  private nextId = 0;

  constructor(private readonly answer: (body: Record<string, unknown>, format: WireFormat) => ItemAnswer) {}

  reset(): void {
    this.files.clear();
    this.batches.clear();
    this.created = 0;
    this.calls.length = 0;
    this.throttled = 0;
    this.pace = {};
  }

  /** Serves the request when it is one of these endpoints; false otherwise. */
  handles(req: IncomingMessage): boolean {
    return /^\/v1\/(files|batches|messages\/batches)(\/|$|\?)/.test(req.url ?? '');
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '').split('?')[0]!;
    const method = req.method ?? 'GET';
    this.calls.push({ method, path, headers: req.headers });
    let match: RegExpExecArray | null;
    if (path.startsWith('/v1/messages/batches')) return this.handleAnthropic(method, path, body, res);
    if (method === 'POST' && path === '/v1/files') return this.upload(req, body, res);
    if (method === 'POST' && path === '/v1/batches') return this.create(body, res);
    if (method === 'GET' && (match = /^\/v1\/batches\/([^/]+)$/.exec(path))) return this.poll(match[1]!, res);
    if (method === 'POST' && (match = /^\/v1\/batches\/([^/]+)\/cancel$/.exec(path)))
      return this.cancel(match[1]!, res);
    if (method === 'GET' && (match = /^\/v1\/files\/([^/]+)\/content$/.exec(path))) return this.content(match[1]!, res);
    json(res, 404, errorBody('openai', `No route for ${method} ${path}`, 'invalid_request_error'));
  }

  private upload(req: IncomingMessage, body: string, res: ServerResponse): void {
    const boundary = /boundary=([^;]+)/.exec(String(req.headers['content-type']))?.[1];
    if (!boundary) return json(res, 400, errorBody('openai', 'Expected multipart/form-data', 'invalid_request_error'));
    const fields = new Map<string, { filename?: string; value: string }>();
    for (const part of body.split(`--${boundary}`)) {
      const [head, ...rest] = part.split('\r\n\r\n');
      const name = /name="([^"]+)"/.exec(head ?? '')?.[1];
      if (!name) continue;
      const filename = /filename="([^"]+)"/.exec(head ?? '')?.[1];
      fields.set(name, { filename, value: rest.join('\r\n\r\n').replace(/\r\n$/, '') });
    }
    const file = fields.get('file');
    const purpose = fields.get('purpose')?.value;
    if (!file || purpose !== 'batch')
      return json(res, 400, errorBody('openai', 'A file with purpose "batch" is required', 'invalid_request_error'));
    const id = `file-${++this.nextId}`;
    this.files.set(id, { id, purpose, filename: file.filename ?? 'upload.jsonl', content: file.value });
    json(res, 200, {
      id,
      object: 'file',
      bytes: Buffer.byteLength(file.value),
      created_at: now(),
      filename: file.filename,
      purpose,
    });
  }

  private create(body: string, res: ServerResponse): void {
    const request = JSON.parse(body) as { input_file_id?: string; endpoint?: string; completion_window?: string };
    const file = this.files.get(request.input_file_id ?? '');
    if (!file) return json(res, 404, errorBody('openai', 'No such file', 'invalid_request_error'));
    if (
      !['/v1/chat/completions', '/v1/responses'].includes(request.endpoint ?? '') ||
      request.completion_window !== '24h'
    )
      return json(res, 400, errorBody('openai', 'Unsupported endpoint or completion window', 'invalid_request_error'));
    const lines = file.content
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as { custom_id: string; body: Record<string, unknown> });
    this.created++;
    const batch: Batch = {
      id: `batch_${++this.nextId}`,
      format: 'openai',
      answers: [],
      inputFileId: file.id,
      endpoint: request.endpoint!,
      status: 'validating',
      lines,
      done: 0,
      pollsInProgress: 0,
      createdAt: now(),
    };
    this.batches.set(batch.id, batch);
    json(res, 200, this.view(batch));
    if (this.pace.instant) {
      this.run(batch, lines.length);
      this.finish(batch, 'completed');
    }
  }

  /** Runs the batch's next items, up to `done` of them. */
  private run(batch: Batch, done: number): void {
    const format = batch.endpoint === '/v1/responses' ? 'openai-responses' : batch.format;
    for (let i = batch.done; i < done; i++) batch.answers.push(this.answer(batch.lines[i]!.body, format));
    batch.done = done;
  }

  /** 429s answered to polls so far. */
  throttled = 0;

  /** Whether this poll is answered 429 (the rate limit the pace sets); answers it if so. */
  private throttle(res: ServerResponse): boolean {
    if (this.throttled >= (this.pace.throttledPolls ?? 0)) return false;
    this.throttled++;
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': String(this.pace.retryAfterMs ?? 50) });
    res.end(JSON.stringify(errorBody('openai', 'Rate limit reached for requests', 'rate_limit_exceeded')));
    return true;
  }

  /** One poll moves a batch one step. */
  private poll(id: string, res: ServerResponse): void {
    if (this.throttle(res)) return;
    const batch = this.batches.get(id);
    if (!batch) return json(res, 404, errorBody('openai', 'No such batch', 'invalid_request_error'));
    this.advance(batch);
    json(res, 200, this.view(batch));
  }

  private advance(batch: Batch): void {
    switch (batch.status) {
      case 'validating':
        if (this.pace.failValidation) {
          batch.status = 'failed';
          batch.errors = this.pace.failValidation;
        } else batch.status = 'in_progress';
        return;
      case 'in_progress': {
        batch.pollsInProgress++;
        this.run(batch, Math.min(batch.lines.length, batch.done + (this.pace.itemsPerPoll ?? batch.lines.length)));
        if (batch.done < batch.lines.length) {
          if (this.pace.expireAfterPolls !== undefined && batch.pollsInProgress >= this.pace.expireAfterPolls)
            this.finish(batch, 'expired');
        } else if (batch.format === 'anthropic') this.finish(batch, 'completed');
        else batch.status = 'finalizing';
        return;
      }
      case 'finalizing':
        return this.finish(batch, 'completed');
      case 'cancelling':
      case 'canceling':
        return this.finish(batch, 'cancelled');
    }
  }

  /** Writes the output file (answered items) and the error file (failed, and unfinished ones). */
  private finish(batch: Batch, status: 'completed' | 'expired' | 'cancelled'): void {
    if (batch.format === 'anthropic') return this.finishAnthropic(batch, status);
    const output: string[] = [];
    const errors: string[] = [];
    batch.lines.forEach((line, index) => {
      const id = `batch_req_${index + 1}`;
      if (index >= batch.done) {
        const error =
          status === 'expired'
            ? {
                code: 'batch_expired',
                message: 'This request could not be executed before the completion window expired.',
              }
            : { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' };
        errors.push(JSON.stringify({ id, custom_id: line.custom_id, response: null, error }));
        return;
      }
      const answer = batch.answers[index]!;
      const model = typeof line.body.model === 'string' ? line.body.model : 'test-model';
      if ('text' in answer) {
        const responses = batch.endpoint === '/v1/responses';
        const body = wholeBody(responses ? 'openai-responses' : 'openai', model, answer.text, 'stop', usageOf(answer));
        output.push(
          JSON.stringify({
            id,
            custom_id: line.custom_id,
            response: { status_code: 200, request_id: id, body },
            error: null,
          }),
        );
      } else {
        const body = errorBody('openai', answer.message, 'invalid_request_error');
        errors.push(
          JSON.stringify({
            id,
            custom_id: line.custom_id,
            response: { status_code: answer.status, request_id: id, body },
            error: null,
          }),
        );
      }
    });
    batch.status = status;
    batch.outputFileId = output.length ? this.store(`${batch.id}_output.jsonl`, output) : undefined;
    batch.errorFileId = errors.length ? this.store(`${batch.id}_error.jsonl`, errors) : undefined;
  }

  private store(filename: string, lines: string[]): string {
    const id = `file-${++this.nextId}`;
    this.files.set(id, { id, purpose: 'batch_output', filename, content: lines.join('\n') + '\n' });
    return id;
  }

  private cancel(id: string, res: ServerResponse): void {
    const batch = this.batches.get(id);
    if (!batch) return json(res, 404, errorBody('openai', 'No such batch', 'invalid_request_error'));
    if (['validating', 'in_progress', 'finalizing'].includes(batch.status)) batch.status = 'cancelling';
    json(res, 200, this.view(batch));
  }

  private content(id: string, res: ServerResponse): void {
    const file = this.files.get(id);
    if (!file) return json(res, 404, errorBody('openai', 'No such file', 'invalid_request_error'));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(file.content);
  }

  private view(batch: Batch): Record<string, unknown> {
    const failed = batch.status === 'in_progress' || batch.status === 'validating' ? 0 : this.failedCount(batch);
    return {
      id: batch.id,
      object: 'batch',
      endpoint: batch.endpoint,
      errors: batch.errors ? { object: 'list', data: [{ code: 'invalid_file', message: batch.errors }] } : null,
      input_file_id: batch.inputFileId,
      completion_window: '24h',
      status: batch.status,
      output_file_id: batch.outputFileId ?? null,
      error_file_id: batch.errorFileId ?? null,
      created_at: batch.createdAt,
      request_counts: { total: batch.lines.length, completed: batch.done - failed, failed },
      metadata: null,
    };
  }

  private failedCount(batch: Batch): number {
    return batch.answers.filter((answer) => !('text' in answer)).length;
  }

  private handleAnthropic(method: string, path: string, body: string, res: ServerResponse): void {
    let match: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/messages/batches') return this.createAnthropic(body, res);
    const batch = (match = /^\/v1\/messages\/batches\/([^/]+)/.exec(path)) && this.batches.get(match[1]!);
    if (!batch || batch.format !== 'anthropic')
      return json(res, 404, errorBody('anthropic', 'Message batch not found', 'not_found_error'));
    const action = path.slice(`/v1/messages/batches/${batch.id}`.length);
    if (method === 'GET' && action === '') {
      if (this.throttle(res)) return;
      this.advance(batch);
      return json(res, 200, this.anthropicView(batch));
    }
    if (method === 'POST' && action === '/cancel') {
      if (batch.status === 'in_progress') {
        batch.status = 'canceling';
        batch.cancelInitiated = true;
      }
      return json(res, 200, this.anthropicView(batch));
    }
    if (method === 'GET' && action === '/results') {
      if (batch.results === undefined)
        return json(res, 400, errorBody('anthropic', 'Batch is still processing', 'invalid_request_error'));
      res.writeHead(200, { 'content-type': 'application/binary' });
      return void res.end(batch.results);
    }
    json(res, 404, errorBody('anthropic', `No route for ${method} ${path}`, 'not_found_error'));
  }

  /** Checks the requests as Anthropic does: unique custom ids of the documented shape, and params with a model and max_tokens. */
  private createAnthropic(body: string, res: ServerResponse): void {
    const requests = (JSON.parse(body) as { requests?: { custom_id?: unknown; params?: Record<string, unknown> }[] })
      .requests;
    const invalid = (message: string): void => json(res, 400, errorBody('anthropic', message, 'invalid_request_error'));
    if (!Array.isArray(requests) || !requests.length) return invalid('requests: at least one request is required');
    const ids = new Set<string>();
    for (const request of requests) {
      const id = request.custom_id;
      if (typeof id !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(id) || ids.has(id))
        return invalid(`custom_id ${JSON.stringify(id)} must be unique and match ^[a-zA-Z0-9_-]{1,64}$`);
      ids.add(id);
      if (typeof request.params?.model !== 'string' || typeof request.params.max_tokens !== 'number')
        return invalid(`${id}: params need model and max_tokens`);
      if ('stream' in request.params) return invalid(`${id}: params.stream is not allowed in a batch`);
    }
    this.created++;
    const batch: Batch = {
      id: `msgbatch_${String(++this.nextId).padStart(6, '0')}`,
      format: 'anthropic',
      inputFileId: '',
      endpoint: '/v1/messages',
      status: 'in_progress',
      lines: requests.map((r) => ({ custom_id: r.custom_id as string, body: r.params! })),
      done: 0,
      pollsInProgress: 0,
      createdAt: now(),
      answers: [],
    };
    this.batches.set(batch.id, batch);
    json(res, 200, this.anthropicView(batch));
    if (this.pace.instant) {
      this.run(batch, batch.lines.length);
      this.finishAnthropic(batch, 'completed');
    }
  }

  /** Ends the batch: one result per request, in any order (the documentation says not to rely on it). */
  private finishAnthropic(batch: Batch, how: 'completed' | 'expired' | 'cancelled'): void {
    const lines = batch.lines.map((line, index) => {
      const answer = batch.answers[index];
      const model = typeof line.body.model === 'string' ? line.body.model : 'test-model';
      let result: unknown;
      if (!answer) result = { type: how === 'expired' ? 'expired' : 'canceled' };
      else if ('text' in answer)
        result = {
          type: 'succeeded',
          message: wholeBody('anthropic', model, answer.text, 'end_turn', usageOf(answer)),
        };
      else result = { type: 'errored', error: errorBody('anthropic', answer.message, 'invalid_request_error') };
      return JSON.stringify({ custom_id: line.custom_id, result });
    });
    batch.status = 'ended';
    batch.results = lines.reverse().join('\n') + '\n';
  }

  private anthropicView(batch: Batch): Record<string, unknown> {
    const ended = batch.status === 'ended';
    const succeeded = batch.answers.filter((a) => 'text' in a).length;
    const errored = batch.answers.length - succeeded;
    const notRun = ended ? batch.lines.length - batch.answers.length : 0;
    const at = new Date(batch.createdAt * 1000).toISOString();
    return {
      id: batch.id,
      type: 'message_batch',
      processing_status: batch.status,
      request_counts: {
        processing: batch.lines.length - batch.answers.length - notRun,
        succeeded,
        errored,
        canceled: batch.cancelInitiated ? notRun : 0,
        expired: batch.cancelInitiated ? 0 : notRun,
      },
      ended_at: ended ? new Date().toISOString() : null,
      created_at: at,
      expires_at: new Date(batch.createdAt * 1000 + 86_400_000).toISOString(),
      cancel_initiated_at: batch.cancelInitiated ? at : null,
      archived_at: null,
      results_url: ended ? `https://api.anthropic.com/v1/messages/batches/${batch.id}/results` : null,
    };
  }
}

/** The usage an answer reports: its own, or 5 prompt tokens and one per word. */
function usageOf(answer: { text: string; usage?: Usage }): Usage {
  return answer.usage ?? { input: 5, output: answer.text.split(' ').length };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const now = (): number => Math.floor(Date.now() / 1000);
