import { AuthError, HttpError, scrubSecret, type ErrorSite } from './errors';
import { errorFromBody } from './providers/provider';
import type { RawResponse } from './http/send';

/** Error bodies are short; a server that streams megabytes of HTML is cut off here. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/** Reads an error response's body and turns it into an HttpError (AuthError for 401 and 403). */
export async function readHttpError(response: RawResponse, site: ErrorSite, requestId: string | undefined, apiKey: string | undefined): Promise<HttpError> {
  const text = scrubSecret(await readPrefix(response), apiKey);
  const { message, type } = errorFromBody(tryJson(text));
  const providerMessage = scrubSecret(message ?? firstLine(text), apiKey);
  const details = { site, requestId, headers: response.headers, providerType: type };
  if (response.status === 401 || response.status === 403) return new AuthError(response.status, providerMessage, details);
  return new HttpError(response.status, providerMessage, { ...details, retryable: isRetryable(response.status, response.headers, type) });
}

function isRetryable(status: number, headers: Record<string, string>, type: string | undefined): boolean {
  if (headers['x-should-retry'] === 'true') return true;
  if (headers['x-should-retry'] === 'false') return false;
  if (type === 'insufficient_quota') return false; // a spent quota does not come back by retrying
  return RETRYABLE_STATUS.has(status);
}

async function readPrefix(response: RawResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_ERROR_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8');
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/, 1)[0]?.slice(0, 300) ?? '';
}
