import { AuthError, HttpError, ProtocolError, RedirectError, describeSite, type ErrorSite } from '../errors';
import { parseRateLimitHeaders } from '../flow/rate-limit-headers';
import { errorFromBody } from '../providers/provider';
import type { SecretScrubber } from '../guards/secrets';
import type { ChunkSource } from '../http/response-body';

/** A response as the attempt sees it: headers scrubbed, body decompressed. */
export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
  body: ChunkSource;
  requestId?: string;
}

/** Error bodies are short; a server that streams megabytes of HTML is cut off here. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/** Reads an error response's body and turns it into an HttpError (AuthError for 401 and 403). */
export async function readHttpError(
  response: ResponseHead,
  site: ErrorSite,
  scrubber: SecretScrubber,
): Promise<HttpError> {
  const text = scrubber.scrub(await readPrefix(response.body));
  const { message, type } = errorFromBody(tryJson(text));
  const providerMessage = message ?? (looksLikeHtml(text) ? describeBody(text) : firstLine(text));
  const retryAfterMs = parseRateLimitHeaders(response.headers, Date.now()).retryAfterMs;
  const details = { site, requestId: response.requestId, headers: response.headers, providerType: type, retryAfterMs };
  if (response.status === 401 || response.status === 403)
    return new AuthError(response.status, providerMessage, details);
  return new HttpError(response.status, providerMessage, {
    ...details,
    retryable: isRetryable(response.status, response.headers, type),
  });
}

/** A 3xx. It is not followed: the key must only ever go to the endpoint the user set. */
export function redirectError(response: ResponseHead, site: ErrorSite): RedirectError {
  response.body.destroy();
  return new RedirectError(response.status, targetOrigin(response.headers.location, site.origin), {
    site,
    requestId: response.requestId,
    headers: response.headers,
  });
}

/** A successful status whose body is a web page (a captive portal, a proxy's login page), not the API. */
export async function notAnAnswer(
  response: ResponseHead,
  site: ErrorSite,
  scrubber: SecretScrubber,
): Promise<ProtocolError> {
  const text = scrubber.scrub(await readPrefix(response.body));
  return new ProtocolError(
    `${describeSite(site)} answered ${response.status} with ${describeBody(text)} instead of an API response: a captive portal, a proxy's login page or a website is in the way, or the base URL points at a web page. Check the base URL and the network.`,
    { site, status: response.status, requestId: response.requestId },
  );
}

/** What a body that is not the expected JSON is, in a few words: "an empty body", "an HTML page titled "Log in"", or its start. */
export function describeBody(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return 'an empty body';
  if (looksLikeHtml(trimmed)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(trimmed)?.[1]?.replace(/\s+/g, ' ').trim();
    return title ? `an HTML page titled ${JSON.stringify(title.slice(0, 80))}` : 'an HTML page';
  }
  const sample = trimmed.replace(/\s+/g, ' ');
  return JSON.stringify(sample.length > 80 ? `${sample.slice(0, 80)}…` : sample);
}

function looksLikeHtml(text: string): boolean {
  return /^\s*(<!doctype html|<html|<head|<body)/i.test(text);
}

function targetOrigin(location: string | undefined, base: string): string | undefined {
  if (!location) return undefined;
  try {
    const url = new URL(location, base);
    return url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
  } catch {
    return undefined;
  }
}

function isRetryable(status: number, headers: Record<string, string>, type: string | undefined): boolean {
  if (headers['x-should-retry'] === 'true') return true;
  if (headers['x-should-retry'] === 'false') return false;
  if (type === 'insufficient_quota') return false; // a spent quota does not come back by retrying
  return RETRYABLE_STATUS.has(status);
}

async function readPrefix(body: ChunkSource): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
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
