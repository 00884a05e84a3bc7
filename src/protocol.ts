/**
 * Messages between the extension host and the chat webview: one union per
 * direction, with guards. Types and guards only; no runtime dependencies.
 */
export type WebviewToHost = { type: 'ready' };

export type HostToWebview = { type: 'hello'; version: string };

export function isWebviewToHost(value: unknown): value is WebviewToHost {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'ready';
}
