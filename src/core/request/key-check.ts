import { ConfigError, describeSite, type ErrorSite } from '../errors';

/** What HTTP allows in a header value, and what a key is: visible ASCII, nothing at either end. */
const VALID_KEY = /^[\x21-\x7e]+$/;

/**
 * Refuses a key no header can carry, before anything is sent: a key pasted
 * with a newline would otherwise fail deep in the HTTP layer and be retried
 * as a "connection failed". Checked on its own, since inside
 * "Bearer <key>" a stray leading space would still make a valid header.
 * The message says what is wrong with the key, never the key. (Extra
 * headers are checked with the endpoint's settings, in providers/extras.ts.)
 */
export function checkApiKey(apiKey: string | undefined, site: ErrorSite): void {
  if (!apiKey || VALID_KEY.test(apiKey)) return;
  throw new ConfigError(
    `The API key for ${describeSite(site)} ${whatIsWrong(apiKey)}; an HTTP header cannot carry that, so nothing was sent. Set it again.`,
  );
}

function whatIsWrong(value: string): string {
  if (value.trim().length === 0) return 'is empty';
  if (/[\r\n]/.test(value))
    return 'contains a line break (perhaps the newline at the end of the file it was copied from)';
  if (value.trim() !== value) return 'starts or ends with a space';
  if (/\s/.test(value)) return 'contains a space';
  if (/[^\p{ASCII}]/u.test(value))
    return 'contains characters outside ASCII (perhaps quotes or a dash changed by a word processor)';
  return 'contains control characters';
}
