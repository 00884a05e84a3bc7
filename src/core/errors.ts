/**
 * Every failure the engine reports is a FlowgateError: a stable `code`, the
 * endpoint it concerns, whether a retry could help, and a message a person can
 * act on. Messages never contain an API key: everything a server sends passes
 * the endpoint's SecretScrubber before a message is built from it.
 *
 * Each class sets `name` as a string: a name taken from the class would be
 * whatever the minifier made of it (`q`, `PA`) in the shipped bundles.
 */
import { formatDuration } from './duration';

export type ProviderKind = 'openai' | 'openai-responses' | 'anthropic' | 'ollama';

export const PROVIDER_LABEL: Record<ProviderKind, string> = {
  openai: 'OpenAI-compatible API',
  'openai-responses': 'OpenAI Responses API',
  anthropic: 'Anthropic',
  ollama: 'Ollama',
};

/** Where an error happened, as shown to a person: "Ollama at 127.0.0.1:11434". */
export interface ErrorSite {
  provider: ProviderKind;
  /** Origin only (scheme, host, port): never a path, query or credentials. */
  origin: string;
}

export interface ErrorDetails {
  site?: ErrorSite;
  status?: number;
  requestId?: string;
  retryable?: boolean;
  cause?: unknown;
}

export type ErrorCode =
  | 'FLOWGATE_TIMEOUT'
  | 'FLOWGATE_HTTP'
  | 'FLOWGATE_AUTH'
  | 'FLOWGATE_NETWORK'
  | 'FLOWGATE_PROTOCOL'
  | 'FLOWGATE_PROVIDER'
  | 'FLOWGATE_CANCELLED'
  | 'FLOWGATE_UNAVAILABLE'
  | 'FLOWGATE_BUDGET'
  | 'FLOWGATE_CONFIG'
  | 'FLOWGATE_UNSAFE_PATH'
  | 'FLOWGATE_BATCH_LOCKED'
  | 'FLOWGATE_BATCH_FILES';

export abstract class FlowgateError extends Error {
  abstract override readonly name: string;
  abstract readonly code: ErrorCode;
  readonly provider?: ProviderKind;
  readonly origin?: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly retryable: boolean;
  /** Text that reached the caller before the failure; it stays shown and is never sent again. */
  partialText?: string;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.provider = details.site?.provider;
    this.origin = details.site?.origin;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryable = details.retryable ?? false;
  }
}

export type TimeoutPhase = 'connect' | 'firstToken' | 'idle' | 'total';

const PHASE_WORDS: Record<TimeoutPhase, (seconds: string) => string> = {
  connect: (s) => `could not be connected to within ${s}; check that the server is running and reachable`,
  firstToken: (s) =>
    `sent no first token within ${s}; if the model is loading or the prompt is long, raise the first-token timeout`,
  idle: (s) => `stopped sending tokens for ${s} mid-answer; the stream stalled, try again`,
  total: (s) => `did not finish within the total timeout of ${s}; raise it for long answers`,
};

export class TimeoutError extends FlowgateError {
  override readonly name = 'TimeoutError';
  readonly code = 'FLOWGATE_TIMEOUT';
  constructor(
    readonly phase: TimeoutPhase,
    readonly timeoutMs: number,
    details: ErrorDetails = {},
  ) {
    // Only a connect timeout is repeated: the request never reached the server.
    // A slow first token or a stalled stream would most likely happen again.
    super(`${describeSite(details.site)} ${PHASE_WORDS[phase](formatDuration(timeoutMs))}.`, {
      retryable: phase === 'connect',
      ...details,
    });
  }
}

export interface HttpErrorDetails extends ErrorDetails {
  headers?: Record<string, string>;
  providerType?: string;
  /** How long the server asked to wait (Retry-After), when it said. */
  retryAfterMs?: number;
}

/** The server answered with an error status. */
export class HttpError extends FlowgateError {
  /** A string, not the literal: AuthError and RedirectError are HttpErrors with names of their own. */
  override readonly name: string = 'HttpError';
  readonly code: ErrorCode = 'FLOWGATE_HTTP';
  /** Response headers, lower-case; flow control reads retry-after and rate-limit headers from them. */
  readonly headers: Record<string, string>;
  /** The provider's error type or code, e.g. `insufficient_quota`, `overloaded_error`. */
  readonly providerType?: string;
  /** How long the server asked to wait before trying again (Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(
    status: number,
    readonly providerMessage: string,
    details: HttpErrorDetails = {},
  ) {
    super(httpMessage(status, providerMessage, details), { status, ...details });
    this.headers = details.headers ?? {};
    this.providerType = details.providerType;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** 401 or 403: the key is missing, wrong, or lacks access. Never retried. */
export class AuthError extends HttpError {
  override readonly name = 'AuthError';
  override readonly code = 'FLOWGATE_AUTH';
  constructor(status: number, providerMessage: string, details: HttpErrorDetails = {}) {
    super(status, providerMessage, { ...details, retryable: false });
  }
}

/** A 3xx. Redirects are not followed, so a key is only ever sent to the endpoint the user set. Never retried. */
export class RedirectError extends HttpError {
  override readonly name = 'RedirectError';
  constructor(
    status: number,
    /** The origin the server pointed to, when its Location header named one. */
    readonly target: string | undefined,
    details: HttpErrorDetails = {},
  ) {
    super(status, target ? `redirect to ${target}` : 'redirect', { ...details, retryable: false });
    const where = target ? ` to ${target}` : '';
    this.message = `${describeSite(details.site)} answered ${status}, a redirect${where}. Flowgate does not follow redirects, so the key stays with the endpoint you set; if the API has moved, put its new address in the base URL.`;
  }
}

/** The connection failed: refused, reset, DNS, TLS. */
export class NetworkError extends FlowgateError {
  override readonly name = 'NetworkError';
  readonly code = 'FLOWGATE_NETWORK';
  /** True when the failure happened before the request reached the server. */
  readonly beforeSend: boolean;
  /** The system's or undici's code for the failure, e.g. ECONNREFUSED, ECONNRESET. */
  readonly systemCode?: string;
  constructor(message: string, details: ErrorDetails & { beforeSend: boolean; systemCode?: string }) {
    // Repeating a request the server may have started on could run the prompt twice.
    super(message, { retryable: details.beforeSend, ...details });
    this.beforeSend = details.beforeSend;
    this.systemCode = details.systemCode;
  }
}

/** The server sent something that is not the protocol: bad JSON, a truncated stream. */
export class ProtocolError extends FlowgateError {
  override readonly name = 'ProtocolError';
  readonly code = 'FLOWGATE_PROTOCOL';
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
  }
}

/** The provider reported an error inside a stream that had started (an SSE `error` event, an Ollama error line). */
export class ProviderError extends FlowgateError {
  override readonly name = 'ProviderError';
  readonly code = 'FLOWGATE_PROVIDER';
  constructor(
    readonly providerMessage: string,
    readonly providerType: string | undefined,
    details: ErrorDetails = {},
  ) {
    super(`${describeSite(details.site)} reported an error: ${providerMessage}`, details);
  }
}

export class CancelledError extends FlowgateError {
  override readonly name = 'CancelledError';
  readonly code = 'FLOWGATE_CANCELLED';
  constructor(details: ErrorDetails = {}) {
    const to = details.site ? ` to ${describeSite(details.site)}` : '';
    super(`The request${to} was cancelled.`, { ...details, retryable: false });
  }
}

/** The endpoint's circuit breaker is open after repeated failures; nothing was sent. */
export class EndpointUnavailableError extends FlowgateError {
  override readonly name = 'EndpointUnavailableError';
  readonly code = 'FLOWGATE_UNAVAILABLE';
  constructor(
    readonly reopensAt: number,
    details: ErrorDetails & { failures?: number } = {},
  ) {
    const seconds = Math.max(1, Math.ceil((reopensAt - Date.now()) / 1000));
    super(
      `${describeSite(details.site)} is failing repeatedly, so Flowgate is holding requests back; it will try it again in ${formatDuration(seconds * 1000)}. Check the server, or give the endpoint fallbacks to try instead.`,
      {
        ...details,
        retryable: false,
      },
    );
  }
}

/** A bad setting or argument, found before anything is sent. */
export class ConfigError extends FlowgateError {
  override readonly name = 'ConfigError';
  readonly code = 'FLOWGATE_CONFIG';
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

export function describeSite(site: ErrorSite | undefined): string {
  if (!site) return 'The server';
  const host = site.origin.replace(/^https?:\/\//, '');
  return `${PROVIDER_LABEL[site.provider]} at ${host}`;
}

const STATUS_HINTS: Record<number, string> = {
  400: 'the request was rejected; check the model name and parameters',
  401: 'the key for this endpoint is missing or wrong',
  403: 'the key has no access to this model or endpoint',
  404: 'not found; check the base URL and the model name',
  408: 'the server timed out waiting for the request',
  413: 'the prompt is too large for this endpoint',
  429: 'rate limited; wait or lower the request rate',
  500: 'the server failed; try again',
  502: 'a gateway in front of the server failed; try again',
  503: 'the server is overloaded or starting; try again shortly',
  504: 'a gateway timed out; try again',
  529: 'the provider is overloaded; try again shortly',
};

function httpMessage(status: number, providerMessage: string, details: HttpErrorDetails): string {
  const hint = STATUS_HINTS[status] ?? (status >= 500 ? 'the server failed; try again' : 'the request was rejected');
  const said = providerMessage ? ` The server said: ${truncate(providerMessage, 300)}` : '';
  const wait =
    details.retryAfterMs !== undefined
      ? ` It asked to wait ${formatDuration(details.retryAfterMs)} before trying again.`
      : '';
  const id = details.requestId ? ` (request id ${details.requestId})` : '';
  return `${describeSite(details.site)} answered ${status}: ${hint}.${said}${wait}${id}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

export function isFlowgateError(value: unknown): value is FlowgateError {
  return value instanceof FlowgateError;
}
