import { ConfigError, describeSite, type ErrorSite } from './errors';

/** The headers that carry an endpoint's key, by provider convention. */
const KEY_HEADERS = new Set(['authorization', 'x-api-key', 'api-key']);

/** What HTTP allows in a header value: visible ASCII, spaces and tabs inside, nothing at either end. */
const VALID_VALUE = /^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/;

/**
 * Refuses a request whose headers cannot be sent, before anything is sent: a
 * key pasted with a newline would otherwise fail deep in the HTTP layer and
 * be retried as a "connection failed". The message says what is wrong with
 * the value, never the value.
 */
export function checkHeaders(headers: Record<string, string>, apiKey: string | undefined, site: ErrorSite): void {
  // The key on its own: inside "Bearer <key>" a stray leading space would still make a valid header.
  if (apiKey && !VALID_VALUE.test(apiKey)) refuse(`The API key for ${describeSite(site)}`, apiKey);
  for (const [name, value] of Object.entries(headers)) {
    if (VALID_VALUE.test(value)) continue;
    refuse(KEY_HEADERS.has(name.toLowerCase()) ? `The API key for ${describeSite(site)}` : `The value of the header "${name}" for ${describeSite(site)}`, value);
  }
}

function refuse(what: string, value: string): never {
  throw new ConfigError(`${what} ${whatIsWrong(value)}; an HTTP header cannot carry that, so nothing was sent. Set it again.`);
}

function whatIsWrong(value: string): string {
  if (value.trim().length === 0) return 'is empty';
  if (/[\r\n]/.test(value)) return 'contains a line break (perhaps the newline at the end of the file it was copied from)';
  if (value.trim() !== value) return 'starts or ends with a space';
  if (/[^\x00-\x7f]/.test(value)) return 'contains characters outside ASCII (perhaps quotes or a dash changed by a word processor)';
  return 'contains control characters';
}
