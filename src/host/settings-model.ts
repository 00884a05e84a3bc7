/**
 * Flowgate's settings as plain data, and what the engine makes of them.
 * No vscode import, so it is tested directly.
 */
import { endpointOrigin, isProviderKind, type ClientOptions, type Endpoint, type ProxyOptions, type Timeouts } from '../core';

export interface EndpointSetting {
  id: string;
  provider: Endpoint['provider'];
  baseUrl: string;
  model: string;
  rpm?: number;
  tpm?: number;
  concurrency?: number;
}

export type RedactionMode = 'off' | 'warn' | 'redact';

export interface FlowgateSettings {
  endpoints: EndpointSetting[];
  redaction: { mode: RedactionMode; patterns: string[] };
  activeEndpoint?: string;
  timeouts: Partial<Timeouts>;
  maxAttempts: number;
  proxy: ProxyOptions;
}

export interface ParsedEndpoints {
  endpoints: EndpointSetting[];
  /** One line per entry that was left out, saying why. */
  problems: string[];
}

export const DEFAULT_ENDPOINT: EndpointSetting = { id: 'ollama', provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'llama3.2' };

/** Keeps the well-formed entries of `flowgate.endpoints` and says what is wrong with the rest. */
export function parseEndpoints(raw: unknown): ParsedEndpoints {
  if (!Array.isArray(raw)) return { endpoints: [DEFAULT_ENDPOINT], problems: raw === undefined ? [] : ['flowgate.endpoints must be a list.'] };
  const endpoints: EndpointSetting[] = [];
  const problems: string[] = [];
  raw.forEach((entry, index) => {
    const problem = endpointProblem(entry, endpoints);
    if (problem) problems.push(`flowgate.endpoints[${index}]: ${problem}`);
    else endpoints.push(cleanEndpoint(entry as EndpointSetting));
  });
  return { endpoints, problems };
}

function endpointProblem(entry: unknown, seen: EndpointSetting[]): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'each endpoint must be an object.';
  const e = entry as Record<string, unknown>;
  if (typeof e.id !== 'string' || !e.id) return 'needs an "id".';
  if (seen.some((s) => s.id === e.id)) return `the id "${e.id}" is used twice.`;
  if (!isProviderKind(e.provider)) return `"provider" must be openai, anthropic or ollama.`;
  if (typeof e.baseUrl !== 'string' || typeof e.model !== 'string') return 'needs a "baseUrl" and a "model".';
  for (const limit of ['rpm', 'tpm', 'concurrency']) {
    if (e[limit] !== undefined && (typeof e[limit] !== 'number' || !((e[limit] as number) > 0))) return `"${limit}" must be a positive number.`;
  }
  try {
    endpointOrigin({ provider: e.provider, baseUrl: e.baseUrl, model: e.model });
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

function cleanEndpoint(e: EndpointSetting): EndpointSetting {
  const { id, provider, baseUrl, model, rpm, tpm, concurrency } = e;
  return { id, provider, baseUrl, model, rpm, tpm, concurrency };
}

/** The endpoint to use: the active one when it exists, else the first. */
export function activeEndpoint(settings: Pick<FlowgateSettings, 'endpoints' | 'activeEndpoint'>): EndpointSetting | undefined {
  return settings.endpoints.find((e) => e.id === settings.activeEndpoint) ?? settings.endpoints[0];
}

/** The engine options that belong to the client (the rest go with each call). */
export function clientOptionsFrom(settings: FlowgateSettings): ClientOptions {
  return { timeouts: settings.timeouts, retry: { maxAttempts: settings.maxAttempts }, proxy: settings.proxy };
}

/** A proxy change needs new connection pools; other changes apply per call. */
export function proxyKey(settings: FlowgateSettings): string {
  return JSON.stringify(settings.proxy);
}

export function endpointLabel(e: EndpointSetting): string {
  return `${e.id} · ${e.model}`;
}
