/**
 * OpenAI's Files and Batches endpoints, as documented
 * (https://platform.openai.com/docs/api-reference/batch): upload a JSONL
 * file, create a batch from it, watch it go validating, in_progress,
 * finalizing, completed (or expired, cancelled, failed), and download its
 * output and error files. Time is counted in polls, so tests need not wait
 * for a 24-hour window: each GET of a batch moves it one step.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, wholeBody } from './wire';

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
}

/** What one item of a batch is answered with: the text, or an error status and message. */
export type ItemAnswer = { text: string } | { status: number; message: string };

interface StoredFile {
  id: string;
  purpose: string;
  filename: string;
  content: string;
}

interface Batch {
  id: string;
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
}

export class BatchApi {
  readonly files = new Map<string, StoredFile>();
  readonly batches = new Map<string, Batch>();
  /** Batches created so far: a resumed run must not add one. */
  created = 0;
  pace: BatchPace = {};
  private nextId = 0;

  constructor(private readonly answer: (body: Record<string, unknown>) => ItemAnswer) {}

  reset(): void {
    this.files.clear();
    this.batches.clear();
    this.created = 0;
    this.pace = {};
  }

  /** Serves the request when it is one of these endpoints; false otherwise. */
  handles(req: IncomingMessage): boolean {
    return /^\/v1\/(files|batches)(\/|$|\?)/.test(req.url ?? '');
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '').split('?')[0]!;
    const method = req.method ?? 'GET';
    let match: RegExpExecArray | null;
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
    if (request.endpoint !== '/v1/chat/completions' || request.completion_window !== '24h')
      return json(res, 400, errorBody('openai', 'Unsupported endpoint or completion window', 'invalid_request_error'));
    const lines = file.content
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as { custom_id: string; body: Record<string, unknown> });
    this.created++;
    const batch: Batch = {
      id: `batch_${++this.nextId}`,
      inputFileId: file.id,
      endpoint: request.endpoint,
      status: 'validating',
      lines,
      done: 0,
      pollsInProgress: 0,
      createdAt: now(),
    };
    this.batches.set(batch.id, batch);
    json(res, 200, this.view(batch));
    if (this.pace.instant) {
      batch.done = lines.length;
      this.finish(batch, 'completed');
    }
  }

  /** One poll moves a batch one step. */
  private poll(id: string, res: ServerResponse): void {
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
        batch.done = Math.min(batch.lines.length, batch.done + (this.pace.itemsPerPoll ?? batch.lines.length));
        if (batch.done === batch.lines.length) batch.status = 'finalizing';
        else if (this.pace.expireAfterPolls !== undefined && batch.pollsInProgress >= this.pace.expireAfterPolls)
          this.finish(batch, 'expired');
        return;
      }
      case 'finalizing':
        return this.finish(batch, 'completed');
      case 'cancelling':
        return this.finish(batch, 'cancelled');
    }
  }

  /** Writes the output file (answered items) and the error file (failed, and unfinished ones). */
  private finish(batch: Batch, status: 'completed' | 'expired' | 'cancelled'): void {
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
      const answer = this.answer(line.body);
      const model = typeof line.body.model === 'string' ? line.body.model : 'test-model';
      if ('text' in answer) {
        const body = wholeBody('openai', model, answer.text, 'stop', {
          input: 5,
          output: answer.text.split(' ').length,
        });
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
    return batch.lines.slice(0, batch.done).filter((line) => !('text' in this.answer(line.body))).length;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const now = (): number => Math.floor(Date.now() / 1000);
