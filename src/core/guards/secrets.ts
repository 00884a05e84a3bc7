/**
 * Keeps secrets out of everything the engine reports. Whatever a server sends
 * back (an error body, a streamed event, an error line, a header, the answer
 * itself) passes through `scrub` where it enters the engine, before any
 * reader or message sees it; so no message built from it later can carry a
 * key, however it is built.
 */
import type { Endpoint } from '../types';

export const REDACTED = '[redacted]';

/** Shorter values are not worth hiding (and would blank out ordinary words). */
const MIN_SECRET_LENGTH = 8;

export class SecretScrubber {
  static readonly NONE = new SecretScrubber([]);

  /** Each secret as it may come back: verbatim, JSON-escaped, URL-encoded; longest first. */
  private readonly forms: string[];
  /** The shortest form's length: shorter text cannot hold a whole secret. */
  private readonly shortest: number;

  constructor(secrets: readonly (string | undefined)[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (!secret || secret.trim().length < MIN_SECRET_LENGTH) continue;
      forms.add(secret);
      forms.add(JSON.stringify(secret).slice(1, -1));
      forms.add(secret.replaceAll('/', '\\/'));
      forms.add(encodeURIComponent(secret));
      // A key pasted with a stray newline or space comes back without it.
      forms.add(secret.trim());
    }
    this.forms = [...forms].sort((a, b) => b.length - a.length);
    this.shortest = this.forms.at(-1)?.length ?? 0;
  }

  /** The secrets an endpoint's requests carry: its key, and the credentials among its extra headers. */
  static of(endpoint: Pick<Endpoint, 'apiKey' | 'headers'>): SecretScrubber {
    const secrets = endpointSecrets(endpoint);
    return secrets.length ? new SecretScrubber(secrets) : SecretScrubber.NONE;
  }

  scrub(text: string): string {
    if (text.length < this.shortest) return text;
    for (const form of this.forms) if (text.includes(form)) text = text.split(form).join(REDACTED);
    return text;
  }

  /**
   * A filter for one answer's text deltas. A model echoing a key sends it in
   * pieces, one token at a time, so each delta alone never contains it: the
   * filter holds back a tail that could be the start of a secret until the
   * next delta shows whether it is.
   */
  textFilter(): TextFilter {
    return this.forms.length === 0 ? PASS_THROUGH : new HoldBackFilter(this);
  }

  /** The longest tail of `text` that is the start of some secret form, or 0. */
  pendingLength(text: string): number {
    let longest = 0;
    for (const form of this.forms) {
      const first = form[0] as string;
      // Only where the form's first character is can its start be.
      for (let at = text.indexOf(first, Math.max(0, text.length - form.length + 1)); at !== -1;) {
        if (form.startsWith(text.slice(at))) {
          longest = Math.max(longest, text.length - at);
          break;
        }
        at = text.indexOf(first, at + 1);
      }
    }
    return longest;
  }

  scrubHeaders(headers: Record<string, string>): Record<string, string> {
    if (this.forms.length === 0) return headers;
    const clean: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) clean[name] = this.scrub(value);
    return clean;
  }
}

export interface TextFilter {
  /** The part of `text` (with what was held back before it) that is safe to pass on now. */
  push(text: string): string;
  /** The answer ended normally: what is held back is not a secret after all. */
  flush(): string;
}

const PASS_THROUGH: TextFilter = { push: (text) => text, flush: () => '' };

class HoldBackFilter implements TextFilter {
  private held = '';

  constructor(private readonly scrubber: SecretScrubber) {}

  push(text: string): string {
    const joined = this.scrubber.scrub(this.held ? this.held + text : text);
    const keep = this.scrubber.pendingLength(joined);
    // Nothing to hold back (the common case): the text goes on as it is, with nothing copied.
    if (keep === 0) {
      this.held = '';
      return joined;
    }
    this.held = joined.slice(joined.length - keep);
    return joined.slice(0, joined.length - keep);
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}

/** Header names that say their value is a credential: `api-key`, `x-goog-api-key`, `helicone-auth`, `x-portkey-token`... */
const SECRET_HEADER = /key|token|secret|auth|pass|sig|cookie|credential|session/i;
/** A value this long without spaces is treated as a credential whatever its header is called. */
const TOKEN_LIKE = /^\S{20,}$/;

/**
 * The values of an endpoint that must never appear in a message, a log or
 * an answer: its API key, and each extra header value that is a credential
 * by its header's name or looks like one (a gateway's key, an Azure
 * `api-key`). Plain values such as a route name or a title are left out, so
 * that scrubbing does not blank them out of answers. Empty and repeated
 * values are left out too.
 */
export function endpointSecrets(endpoint: Pick<Endpoint, 'apiKey' | 'headers'>): string[] {
  const headerSecrets = Object.entries(endpoint.headers ?? {})
    .filter(([name, value]) => SECRET_HEADER.test(name) || TOKEN_LIKE.test(value))
    .map(([, value]) => value);
  const values = [endpoint.apiKey, ...headerSecrets];
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value.length > 0))];
}

/** Text the user typed that may hold a URL with credentials (`https://user:pass@host`), fit to quote. */
export function withoutCredentials(text: string): string {
  return text.replace(/(\/\/)[^/?#\s@]*@/g, `$1${REDACTED}@`);
}
