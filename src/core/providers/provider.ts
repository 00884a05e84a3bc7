import { ProtocolError, type ErrorSite, type ProviderKind } from '../errors';
import type { Frame } from '../decode/frame';
import type { ChatRequest, Endpoint, StreamEvent } from '../types';

/** An HTTP request in the provider's wire format, relative to the endpoint's origin. */
export interface WireRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Reads one response's frames in order; keeps what it needs to know whether the answer finished. */
export interface StreamReader {
  read(frame: Frame): StreamEvent[];
  /** True once the provider's end marker ([DONE], message_stop, done: true) or a finish reason arrived. */
  readonly finished: boolean;
  /** True once the end marker itself arrived: the answer is over, and nothing after it is read. */
  readonly ended: boolean;
}

/** What differs between provider families; everything else (HTTP, timeouts, errors) is shared. */
export interface Provider {
  readonly kind: ProviderKind;
  readonly framing: 'sse' | 'ndjson';
  /** The word for the end marker in a truncation message. */
  readonly endMarker: string;
  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean): WireRequest;
  createReader(site: ErrorSite): StreamReader;
  /** A whole non-streaming response body, as events. */
  readCompletion(body: unknown, site: ErrorSite): StreamEvent[];
}

export function parseFrameJson(frame: Frame, site: ErrorSite): unknown {
  try {
    return JSON.parse(frame.data);
  } catch (cause) {
    const sample = frame.data.length > 80 ? `${frame.data.slice(0, 80)}…` : frame.data;
    throw new ProtocolError(
      `${describe(site)} sent an event that is not JSON (${JSON.stringify(sample)}); the stream may have been cut off.`,
      {
        site,
        cause,
      },
    );
  }
}

function describe(site: ErrorSite): string {
  return `The server at ${site.origin}`;
}

/** A whole response that parsed as JSON but holds no answer (a gateway's status object, an empty `{}`). */
export function noCompletion(body: unknown, site: ErrorSite, expected: string): ProtocolError {
  const json = JSON.stringify(body) ?? String(body);
  const sample = json.length > 120 ? `${json.slice(0, 120)}…` : json;
  return new ProtocolError(
    `${describe(site)} answered with JSON that holds no answer (no ${expected}): ${sample}. Check that the base URL points at the API and the provider is right.`,
    { site },
  );
}

/** Joins the endpoint's base path and a route, keeping any query string (Azure's `api-version`). */
export function joinPath(baseUrl: string, route: string): string {
  const url = parsedUrl(baseUrl);
  const base = url.pathname.replace(/\/+$/, '');
  return `${base}${route}${url.search}`;
}

/** Parsed base URLs: an endpoint's does not change from one request to the next, so it is parsed once. */
const parsedUrls = new Map<string, URL>();

export function parsedUrl(baseUrl: string): URL {
  let url = parsedUrls.get(baseUrl);
  if (!url) {
    url = new URL(baseUrl);
    if (parsedUrls.size >= 64) parsedUrls.clear(); // endpoints are few; a bound all the same
    parsedUrls.set(baseUrl, url);
  }
  return url;
}

/** Narrow helpers for reading untyped JSON without `any`. */
export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The human part of a provider's error body: OpenAI, Anthropic and Ollama shapes. */
export function errorFromBody(body: unknown): { message?: string; type?: string } {
  const root = asObject(body);
  if (!root) return {};
  const nested = asObject(root.error);
  if (nested) return { message: asString(nested.message), type: asString(nested.type) ?? asString(nested.code) };
  if (typeof root.error === 'string') return { message: root.error };
  return { message: asString(root.message) };
}
