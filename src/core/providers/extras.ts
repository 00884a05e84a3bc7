/**
 * An endpoint's extra headers and body parameters: what may be set, and
 * how it joins what Flowgate sends. The rules are shared by every
 * provider's `encode` and by the settings that check them beforehand.
 */
import { ConfigError, type ProviderKind } from '../errors';
import type { Endpoint } from '../types';
import type { Json } from './provider';

/** A header name is an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What undici accepts in a header value: tab, visible ASCII, space and Latin-1; never CR, LF, NUL or another control character. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** They carry the key, which Flowgate takes from its own store and sends only to the key's origin. */
const KEY_HEADERS = new Set(['authorization', 'x-api-key']);
/** Flowgate's framing: its readers rely on them. (An `accept-encoding` would bring compressed bytes the stream reader cannot read.) */
const FRAMING_HEADERS = new Set(['content-type', 'content-encoding', 'accept', 'accept-encoding', 'anthropic-version']);
/** The connection's own, which the HTTP client manages and HTTP/2 forbids. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'expect',
]);

/** Body fields that are Flowgate's: the model, the conversation and the stream's framing. */
export const RESERVED_PARAMS: readonly string[] = ['model', 'messages', 'input', 'stream', 'stream_options'];

/** What is wrong with an endpoint's extra headers, naming the header but never its value; undefined when nothing is. */
export function headersProblem(headers: unknown): string | undefined {
  if (headers === undefined) return undefined;
  if (!isPlainObject(headers)) return 'must be an object of header names and values.';
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name))
      return `${JSON.stringify(name)} is not a header name: use letters, digits and !#$%&'*+-.^_\`|~ only.`;
    if (KEY_HEADERS.has(lower))
      return `${JSON.stringify(name)} carries the API key, which Flowgate adds itself from its key store; it cannot be set here.`;
    if (FRAMING_HEADERS.has(lower))
      return `${JSON.stringify(name)} is set by Flowgate for the request's format and cannot be changed.`;
    if (TRANSPORT_HEADERS.has(lower))
      return `${JSON.stringify(name)} belongs to the connection, which Flowgate's HTTP client manages; it cannot be set.`;
    if (seen.has(lower)) return `${JSON.stringify(name)} is given twice (header names ignore case).`;
    seen.add(lower);
    if (typeof value !== 'string') return `the value of ${JSON.stringify(name)} must be a string.`;
    if (!FIELD_VALUE.test(value))
      return `the value of ${JSON.stringify(name)} holds a line break, a control character or a character beyond Latin-1.`;
  }
  return undefined;
}

/** What is wrong with an endpoint's extra body parameters; undefined when nothing is. */
export function paramsProblem(params: unknown, provider?: ProviderKind): string | undefined {
  if (params === undefined) return undefined;
  if (!isPlainObject(params)) return 'must be an object of body fields and values.';
  const reserved = RESERVED_PARAMS.find((name) => Object.hasOwn(params, name));
  if (reserved) return `${JSON.stringify(reserved)} is set by Flowgate and cannot be overridden.`;
  if (provider === 'ollama' && params.options !== undefined && !isPlainObject(params.options))
    return '"options" must be an object, as Ollama takes it (e.g. {"num_ctx": 8192}).';
  return undefined;
}

/** The request's headers: the endpoint's extra ones (lower-cased), then Flowgate's own. */
export function withExtraHeaders(endpoint: Endpoint, own: Record<string, string>): Record<string, string> {
  if (!endpoint.headers) return own;
  const problem = headersProblem(endpoint.headers);
  if (problem) throw new ConfigError(`${endpointName(endpoint)} headers: ${problem}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(endpoint.headers)) headers[name.toLowerCase()] = value;
  return { ...headers, ...own };
}

/** The endpoint's extra body fields, checked; an empty object when it has none. */
export function extraParams(endpoint: Endpoint): Json {
  if (!endpoint.params) return {};
  const problem = paramsProblem(endpoint.params, endpoint.provider);
  if (problem) throw new ConfigError(`${endpointName(endpoint)} params: ${problem}`);
  return endpoint.params;
}

function endpointName(endpoint: Endpoint): string {
  return endpoint.id ? `The endpoint ${JSON.stringify(endpoint.id)}:` : `The ${endpoint.model} endpoint:`;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
