import { ResponseBody, type BodyControl } from './response-body';
import type { StopSwitch } from './stop-switch';
import type { Dispatcher } from './undici-pool';

export interface SendOptions {
  dispatcher: Dispatcher;
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Stopping it destroys the socket; its reason becomes the error the caller sees. */
  stop: StopSwitch;
  /** Called when the request is written to a connected socket. */
  onSent: () => void;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Backpressured: undici stops reading the socket while the consumer is behind. Once it is complete, destroying it keeps the connection for reuse. */
  body: ResponseBody;
}

/**
 * POSTs through undici's dispatcher with a handler of our own, so that the
 * moment the request is written is known (the first-token timeout runs from
 * there) and an abort in any phase rejects at once and destroys the socket.
 */
export function send(options: SendOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const exchange = new Exchange(options, resolve, reject);
    exchange.start();
  });
}

class Exchange implements Dispatcher.DispatchHandler, BodyControl {
  private controller: Dispatcher.DispatchController | undefined;
  private body: ResponseBody | undefined;
  private settled = false;

  constructor(
    private readonly options: SendOptions,
    private readonly resolve: (response: RawResponse) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  start(): void {
    const { stop, dispatcher, origin, path, headers, body } = this.options;
    if (stop.reason) return this.fail(stop.reason);
    stop.onStop(this.onStop);
    try {
      dispatcher.dispatch({ origin, method: 'POST', path, headers, body, blocking: true }, this);
    } catch (error) {
      this.finish();
      this.fail(error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Aborted while queued or connecting. Throwing (rather than controller.abort)
    // makes undici drop the request unwritten and keep the healthy socket;
    // abort() would destroy it and leave undici reconnecting for a dead request.
    if (this.options.stop.reason) throw this.options.stop.reason;
    this.controller = controller;
    this.options.onSent();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.controller = controller;
    this.body = new ResponseBody(this);
    this.settled = true;
    this.resolve({ status, headers: flattenHeaders(headers), body: this.body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body?.push(chunk);
  }

  onResponseEnd(): void {
    this.finish();
    this.body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish();
    if (this.body) this.body.fail(error);
    else this.fail(error);
  }

  // BodyControl, for the body: backpressure, and a reader that stops early closes the socket.
  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    this.controller?.resume();
  }

  abort(error: Error): void {
    this.controller?.abort(error);
  }

  private readonly onStop = (reason: Error): void => {
    if (this.controller) this.controller.abort(reason);
    // Queued or connecting: undici has not handed us a controller yet, so it
    // aborts the request in onRequestStart; the caller is told now.
    this.fail(reason);
    this.body?.fail(reason);
  };

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  private finish(): void {
    this.options.stop.onStop(undefined);
  }
}

export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
