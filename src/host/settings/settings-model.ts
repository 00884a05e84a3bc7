/**
 * Flowgate's settings as plain data, and what the engine makes of them.
 * No vscode import, so it is tested directly.
 */
import {
  endpointOrigin,
  headersProblem,
  isProviderKind,
  paramsProblem,
  type ClientOptions,
  type Endpoint,
  type PriceTable,
  type ProxyOptions,
  type Timeouts,
} from '../../core';
import type { AutoRules, BatchMode, PromptCacheSetting } from '../../core/batch';
import { readRules, type SettingKey } from './rules';

export interface EndpointSetting {
  id: string;
  provider: Endpoint['provider'];
  baseUrl: string;
  model: string;
  rpm?: number;
  tpm?: number;
  concurrency?: number;
  /** Ids of other endpoints, tried in this order when this one is down, overloaded or out of quota. Their own fallbacks are not followed. */
  fallbacks?: string[];
  http2?: boolean;
  /** How hard a reasoning model thinks: an effort, or Anthropic's budget in tokens. */
  reasoning?: Endpoint['reasoning'];
  /** Extra request headers; the values may be secrets and are never logged. */
  headers?: Record<string, string>;
  /** Extra body fields, merged into each request. */
  params?: Record<string, unknown>;
  /** What VS Code's chat is told about the model (see language-model/model-info.ts); the engine does not use them. */
  maxInputTokens?: number;
  maxOutputTokens?: number;
  toolCalling?: boolean;
  imageInput?: boolean;
}

export type RedactionMode = 'off' | 'warn' | 'redact';

export type CacheMode = 'deterministic' | 'always' | 'off';

/** Every flowgate.* setting, validated, with defaults filled in. */
export interface FlowgateSettings {
  endpoints: EndpointSetting[];
  /** Unset or empty: the first endpoint. */
  activeEndpoint?: string;
  timeouts: Timeouts;
  maxAttempts: number;
  redaction: { mode: RedactionMode; patterns: string[] };
  batch: {
    templates: Record<string, string>;
    concurrency: number;
    outputFolder: string;
    outputSuffix: string;
    /** How a batch runs by default: one request per file, as provider batches, or `auto` between them. */
    mode: BatchMode;
    /** What `auto` weighs. */
    auto: AutoRules;
    promptCache: PromptCacheSetting;
  };
  metrics: { prometheusPort: number };
  /** Empty: limits stay in this window. */
  sharedState: { redisUrl: string };
  cache: { mode: CacheMode };
  prices: PriceTable;
  /** In dollars; 0 means no limit. */
  budget: { daily: number; monthly: number };
  chat: { showReasoning: boolean };
  /** VS Code's http.proxy settings, which the engine's connections follow. */
  proxy: ProxyOptions;
}

/**
 * Turns raw setting values into FlowgateSettings. `get` returns the raw
 * value of `flowgate.<key>` (undefined when unset). Each problem is one line
 * naming the setting; an invalid value falls back to its default.
 */
export function parseSettings(
  get: (key: 'endpoints' | SettingKey) => unknown,
  proxy: ProxyOptions,
): { settings: FlowgateSettings; problems: string[] } {
  const parsed = parseEndpoints(get('endpoints'));
  const { values: v, problems } = readRules(get);
  const settings: FlowgateSettings = {
    endpoints: parsed.endpoints,
    activeEndpoint: v.activeEndpoint || undefined,
    timeouts: {
      connectMs: v['timeouts.connectMs'],
      firstTokenMs: v['timeouts.firstTokenMs'],
      idleMs: v['timeouts.idleMs'],
      totalMs: v['timeouts.totalMs'],
    },
    maxAttempts: v['retry.maxAttempts'],
    redaction: { mode: v['redaction.mode'], patterns: v['redaction.patterns'] },
    batch: {
      templates: v['batch.templates'],
      concurrency: v['batch.concurrency'],
      outputFolder: v['batch.outputFolder'],
      outputSuffix: v['batch.outputSuffix'],
      mode: v['batch.mode'],
      auto: { minFiles: v['batch.autoMinFiles'], deadlineMs: v['batch.deadlineHours'] * 3_600_000 },
      promptCache: v['batch.promptCache'],
    },
    metrics: { prometheusPort: v['metrics.prometheusPort'] },
    sharedState: { redisUrl: v['sharedState.redisUrl'] },
    cache: { mode: v['cache.mode'] },
    prices: v.prices,
    budget: { daily: v['budget.daily'], monthly: v['budget.monthly'] },
    chat: { showReasoning: v['chat.showReasoning'] },
    proxy,
  };
  return { settings, problems: [...parsed.problems, ...problems] };
}

export interface ParsedEndpoints {
  endpoints: EndpointSetting[];
  /** One line per entry that was left out, saying why. */
  problems: string[];
}

export const DEFAULT_ENDPOINT: EndpointSetting = {
  id: 'ollama',
  provider: 'ollama',
  baseUrl: 'http://127.0.0.1:11434',
  model: 'llama3.2',
};

/**
 * Keeps the well-formed entries of `flowgate.endpoints` and says what is
 * wrong with the rest. An entry whose fallbacks name an endpoint that does
 * not exist, or that was itself left out, is left out too: the user asked
 * for failover, and an endpoint without it should not pass unnoticed.
 */
export function parseEndpoints(raw: unknown): ParsedEndpoints {
  if (!Array.isArray(raw))
    return { endpoints: [DEFAULT_ENDPOINT], problems: raw === undefined ? [] : ['flowgate.endpoints must be a list.'] };
  const kept = new Map<number, EndpointSetting>();
  const problems = new Map<number, string>();
  raw.forEach((entry, index) => {
    const problem = endpointProblem(entry, [...kept.values()]);
    if (problem) problems.set(index, problem);
    else kept.set(index, cleanEndpoint(entry as EndpointSetting));
  });
  const named = new Set(
    raw.map((entry) => (entry as { id?: unknown } | null)?.id).filter((id) => typeof id === 'string'),
  );
  // Leaving one out may strand another that falls back to it, so repeat until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    const ids = new Set([...kept.values()].map((e) => e.id));
    for (const [index, endpoint] of kept) {
      const missing = endpoint.fallbacks?.find((id) => !ids.has(id));
      if (missing === undefined) continue;
      problems.set(
        index,
        named.has(missing)
          ? `fallbacks: the endpoint "${missing}" was left out (see its own problem).`
          : `fallbacks: no endpoint with id "${missing}".`,
      );
      kept.delete(index);
      changed = true;
    }
  }
  return {
    endpoints: [...kept.values()],
    problems: [...problems]
      .sort(([a], [b]) => a - b)
      .map(([index, problem]) => `flowgate.endpoints[${index}]: ${problem}`),
  };
}

function endpointProblem(entry: unknown, seen: EndpointSetting[]): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'each endpoint must be an object.';
  const e = entry as Record<string, unknown>;
  if (typeof e.id !== 'string' || !e.id) return 'needs an "id".';
  if (seen.some((s) => s.id === e.id)) return `the id "${e.id}" is used twice.`;
  if (!isProviderKind(e.provider)) return `"provider" must be openai, openai-responses, anthropic or ollama.`;
  if (typeof e.baseUrl !== 'string' || typeof e.model !== 'string') return 'needs a "baseUrl" and a "model".';
  for (const limit of ['rpm', 'tpm', 'concurrency']) {
    if (e[limit] !== undefined && (typeof e[limit] !== 'number' || !(e[limit] > 0)))
      return `"${limit}" must be a positive number.`;
  }
  for (const size of ['maxInputTokens', 'maxOutputTokens']) {
    if (e[size] !== undefined && !(Number.isInteger(e[size]) && (e[size] as number) > 0))
      return `"${size}" must be a whole number of tokens, 1 or more.`;
  }
  for (const flag of ['http2', 'toolCalling', 'imageInput']) {
    if (e[flag] !== undefined && typeof e[flag] !== 'boolean') return `"${flag}" must be true or false.`;
  }
  try {
    endpointOrigin({ provider: e.provider, baseUrl: e.baseUrl, model: e.model });
  } catch (error) {
    return (error as Error).message;
  }
  const reasoning = reasoningProblem(e.reasoning);
  if (reasoning) return `reasoning: ${reasoning}`;
  const headers = headersProblem(e.headers);
  if (headers) return `headers: ${headers}`;
  const params = paramsProblem(e.params, e.provider);
  if (params) return `params: ${params}`;
  const fallbacks = fallbacksProblem(e.fallbacks, e.id);
  return fallbacks && `fallbacks: ${fallbacks}`;
}

const EFFORTS = ['minimal', 'low', 'medium', 'high'];

function reasoningProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object such as { "effort": "high" } or { "budgetTokens": 8000 }.';
  }
  const { effort, budgetTokens, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) return `"${unknown}" is not a reasoning setting; use "effort" or "budgetTokens".`;
  if (effort !== undefined && !EFFORTS.includes(effort as string))
    return '"effort" must be minimal, low, medium or high.';
  if (budgetTokens !== undefined && !(Number.isInteger(budgetTokens) && (budgetTokens as number) >= 1024)) {
    return '"budgetTokens" must be a whole number of at least 1024 (Anthropic\'s minimum).';
  }
  return undefined;
}

/** The list's own shape; whether each id exists is checked once every entry is known. */
function fallbacksProblem(fallbacks: unknown, id: string): string | undefined {
  if (fallbacks === undefined) return undefined;
  if (!Array.isArray(fallbacks) || !fallbacks.every((f) => typeof f === 'string' && f))
    return 'must be a list of endpoint ids, e.g. ["local"].';
  if (fallbacks.includes(id)) return `"${id}" is this endpoint itself.`;
  const twice = (fallbacks as string[]).find((f, i) => fallbacks.indexOf(f) !== i);
  return twice === undefined ? undefined : `"${twice}" is listed twice.`;
}

function cleanEndpoint(e: EndpointSetting): EndpointSetting {
  const { id, provider, baseUrl, model, rpm, tpm, concurrency, fallbacks, http2, headers, params, reasoning } = e;
  const { maxInputTokens, maxOutputTokens, toolCalling, imageInput } = e;
  return {
    id,
    provider,
    baseUrl,
    model,
    rpm,
    tpm,
    concurrency,
    fallbacks: fallbacks && [...fallbacks],
    http2,
    reasoning: reasoning && { ...reasoning },
    headers: headers && { ...headers },
    params: params && { ...params },
    maxInputTokens,
    maxOutputTokens,
    toolCalling,
    imageInput,
  };
}

/** The endpoints a call on `setting` uses: itself, then its fallbacks in order (only its own list, not theirs). */
export function chainOf(endpoints: EndpointSetting[], setting: EndpointSetting): EndpointSetting[] {
  const fallbacks = (setting.fallbacks ?? [])
    .map((id) => endpoints.find((e) => e.id === id))
    .filter((e): e is EndpointSetting => e !== undefined);
  return [setting, ...fallbacks];
}

/** A setting as the engine takes it, without its key and without the host's own fields. */
export function engineEndpoint(setting: EndpointSetting): Endpoint {
  const {
    fallbacks: _,
    maxInputTokens: _i,
    maxOutputTokens: _o,
    toolCalling: _t,
    imageInput: _m,
    ...endpoint
  } = setting;
  return endpoint;
}

/** The endpoint to use: the active one when it exists, else the first. */
export function activeEndpoint(
  settings: Pick<FlowgateSettings, 'endpoints' | 'activeEndpoint'>,
): EndpointSetting | undefined {
  return settings.endpoints.find((e) => e.id === settings.activeEndpoint) ?? settings.endpoints[0];
}

/** The engine options that belong to the client (the rest go with each call). */
export function clientOptionsFrom(settings: {
  timeouts: Partial<Timeouts>;
  maxAttempts: number;
  proxy: ProxyOptions;
}): ClientOptions {
  return { timeouts: settings.timeouts, retry: { maxAttempts: settings.maxAttempts }, proxy: settings.proxy };
}

/** A proxy change needs new connection pools; other changes apply per call. */
export function proxyKey(settings: Pick<FlowgateSettings, 'proxy'>): string {
  return JSON.stringify(settings.proxy);
}

export function endpointLabel(e: EndpointSetting): string {
  return `${e.id} · ${e.model}`;
}
