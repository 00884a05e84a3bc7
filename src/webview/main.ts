import type { WebviewToHost } from '../protocol';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

// The host posts nothing until the page says it is listening.
acquireVsCodeApi().postMessage({ type: 'ready' });
