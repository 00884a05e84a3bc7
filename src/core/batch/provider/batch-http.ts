/**
 * The plain request/response calls of a provider's batch API (create, poll,
 * cancel, download), made on the engine's pools with the endpoint's key,
 * each within one time limit, each answer scrubbed of the endpoint's secrets
 * before anything reads it.
 */
import { endpointOrigin } from '../../endpoint';
import { CancelledError, ProtocolError, describeSite, type ErrorSite } from '../../errors';
import type { SecretScrubber } from '../../guards/secrets';
import type { PoolRegistry } from '../../http/pools';
import { ResponseBody } from '../../http/response-body';
import { flattenHeaders } from '../../http/send';
import { joinPath } from '../../providers/provider';
import { readHttpError } from '../../request/http-errors';
import { toNetworkError } from '../../request/network-errors';
import type { Endpoint } from '../../types';

export class BatchHttp {
  readonly site: ErrorSite;
  private readonly origin: string;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly pools: PoolRegistry,
    private readonly scrubber: SecretScrubber,
    /** The key and version headers the provider wants on every call. */
    private readonly ownHeaders: Record<string, string>,
    /** Each call's limit, connect to last byte. */
    private readonly timeoutMs = 60_000,
  ) {
    this.origin = endpointOrigin(endpoint);
    this.site = { provider: endpoint.provider, origin: this.origin };
  }

  /** One call whose answer is JSON. */
  async json(
    method: 'GET' | 'POST',
    route: string,
    body?: string,
    contentType?: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const text = await this.text(method, route, body, contentType, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new ProtocolError(
        `${describeSite(this.site)} answered ${method} ${route} with something that is not JSON; check that it offers the provider's batch API.`,
        { site: this.site, cause },
      );
    }
  }

  /** One call; its answer's text, scrubbed of the endpoint's secrets, or the error it answered with. */
  async text(
    method: 'GET' | 'POST',
    route: string,
    body?: string,
    contentType?: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.ownHeaders };
    if (contentType) headers['content-type'] = contentType;
    const connectMs = Math.min(this.timeoutMs, 10_000);
    const dispatcher = this.pools.get(this.origin, connectMs, this.endpoint.http2);
    let status: number;
    let responseHeaders: Record<string, string>;
    let text: string;
    try {
      const response = await dispatcher.request({
        origin: this.origin,
        method,
        path: joinPath(this.endpoint.baseUrl, route),
        headers,
        body,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = flattenHeaders(response.headers);
      text = this.scrubber.scrub(await response.body.text());
    } catch (error) {
      if (signal?.aborted) throw new CancelledError({ site: this.site });
      throw toNetworkError(error, this.site, true, connectMs);
    }
    if (status < 300) return text;
    throw await readHttpError({ status, headers: responseHeaders, body: bodyOf(text) }, this.site, this.scrubber);
  }

  /** The id in an answer, or a clear error when the provider gave none. */
  idOf(value: unknown, what: string): string {
    const id = (value as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string' && id) return id;
    throw new ProtocolError(`${describeSite(this.site)} answered the ${what} request without an id.`, {
      site: this.site,
    });
  }
}

/** A body already read, as the error reader takes it. */
function bodyOf(text: string): ResponseBody {
  const body = new ResponseBody({ pause() {}, resume() {}, abort() {} });
  body.push(Buffer.from(text));
  body.end();
  return body;
}
