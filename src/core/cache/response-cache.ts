import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from '../fs/safe-fs';
import type { ChatMessage, ChatRequest, Completion, Endpoint, StreamEvent } from '../types';

export interface CacheOptions {
  /** In-memory entries are evicted, least recently used first, beyond this. @default 32 MB */
  maxMemoryBytes?: number;
  /** A folder for the on-disk cache; memory only when absent. */
  dir?: string;
  /** The on-disk cache is pruned, oldest first, beyond this. @default 256 MB */
  maxDiskBytes?: number;
  /** Entries older than this are not used. @default 7 days */
  ttlMs?: number;
}

/** When a call may use the cache: `auto` only for deterministic requests (temperature 0). */
export type CacheUse = 'auto' | 'use' | 'bypass';

export interface CacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

interface Entry {
  storedAt: number;
  completion: Completion;
  bytes: number;
}

/**
 * Exact-match answers, keyed by a SHA-256 of the normalised request
 * (provider, base URL, model, messages and parameters, the endpoint's
 * `params` included): an LRU in memory bounded by bytes, and optionally
 * files on disk bounded by bytes and age. Keys never include the API key
 * nor the endpoint's extra headers (their values may be secrets), and
 * nothing but the answer is stored.
 */
export class ResponseCache {
  private readonly memory = new Map<string, Entry>();
  private memoryBytes = 0;
  private hits = 0;
  private misses = 0;
  private readonly maxMemoryBytes: number;
  private readonly maxDiskBytes: number;
  private readonly ttlMs: number;

  constructor(private readonly options: CacheOptions = {}) {
    this.maxMemoryBytes = options.maxMemoryBytes ?? 32 * 1024 * 1024;
    this.maxDiskBytes = options.maxDiskBytes ?? 256 * 1024 * 1024;
    this.ttlMs = options.ttlMs ?? 7 * 24 * 3600 * 1000;
  }

  static key(endpoint: Endpoint, request: ChatRequest): string {
    const normalised = {
      provider: endpoint.provider,
      baseUrl: endpoint.baseUrl.replace(/\/+$/, ''),
      model: endpoint.model,
      system: request.system ?? null,
      messages: request.messages.map(keyOfMessage),
      maxTokens: request.maxTokens ?? null,
      temperature: request.temperature ?? null,
      // Only when present, so that keys stored before params existed still match.
      ...(endpoint.params && Object.keys(endpoint.params).length ? { params: sortedKeys(endpoint.params) } : {}),
      ...(request.tools?.length ? { tools: sortedKeys(request.tools) } : {}),
      ...(request.toolChoice !== undefined ? { toolChoice: request.toolChoice } : {}),
    };
    return createHash('sha256').update(JSON.stringify(normalised)).digest('hex');
  }

  /** `auto` caches deterministic requests: temperature 0, set by the request or by the endpoint's params. */
  static applies(use: CacheUse, request: ChatRequest, endpoint?: Endpoint): boolean {
    return use === 'use' || (use === 'auto' && temperatureOf(request, endpoint) === 0);
  }

  async get(key: string): Promise<Completion | undefined> {
    const entry = this.memory.get(key) ?? (await this.readDisk(key));
    if (!entry || Date.now() - entry.storedAt > this.ttlMs) {
      this.misses++;
      return undefined;
    }
    this.remember(key, entry); // refreshes its place in the LRU order
    this.hits++;
    return entry.completion;
  }

  async set(key: string, completion: Completion): Promise<void> {
    const text = JSON.stringify({ storedAt: Date.now(), completion });
    const entry: Entry = { storedAt: Date.now(), completion, bytes: Buffer.byteLength(text) };
    this.remember(key, entry);
    if (!this.options.dir) return;
    await writeAtomically(this.options.dir, join(this.options.dir, `${key}.json`), text);
    await this.pruneDisk();
  }

  async clear(): Promise<void> {
    this.memory.clear();
    this.memoryBytes = 0;
    if (this.options.dir) await rm(this.options.dir, { recursive: true, force: true });
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.memory.size, bytes: this.memoryBytes };
  }

  private remember(key: string, entry: Entry): void {
    const old = this.memory.get(key);
    if (old) {
      this.memory.delete(key);
      this.memoryBytes -= old.bytes;
    }
    if (entry.bytes > this.maxMemoryBytes) return;
    this.memory.set(key, entry);
    this.memoryBytes += entry.bytes;
    for (const [oldest, value] of this.memory) {
      if (this.memoryBytes <= this.maxMemoryBytes) break;
      this.memory.delete(oldest);
      this.memoryBytes -= value.bytes;
    }
  }

  private async readDisk(key: string): Promise<Entry | undefined> {
    if (!this.options.dir) return undefined;
    const text = await readFile(join(this.options.dir, `${key}.json`), 'utf8').catch(() => undefined);
    if (!text) return undefined;
    try {
      const parsed = JSON.parse(text) as { storedAt: number; completion: Completion };
      return { storedAt: parsed.storedAt, completion: parsed.completion, bytes: Buffer.byteLength(text) };
    } catch {
      return undefined;
    }
  }

  private async pruneDisk(): Promise<void> {
    const dir = this.options.dir!;
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    const files = await Promise.all(names.map(async (name) => ({ name, ...(await stat(join(dir, name))) })));
    let total = files.reduce((sum, f) => sum + f.size, 0);
    const now = Date.now();
    for (const file of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      if (total <= this.maxDiskBytes && now - file.mtimeMs <= this.ttlMs) continue;
      await rm(join(dir, file.name), { force: true });
      total -= file.size;
    }
  }
}

/** The temperature the request is sent with: its own, else the endpoint's params (Ollama's under `options`). */
function temperatureOf(request: ChatRequest, endpoint: Endpoint | undefined): unknown {
  if (request.temperature !== undefined) return request.temperature;
  const params = endpoint?.params;
  const options = params?.options;
  if (endpoint?.provider === 'ollama')
    return typeof options === 'object' && options !== null
      ? (options as Record<string, unknown>).temperature
      : undefined;
  return params?.temperature;
}

/** The same value with object keys in order at every depth, so that the order params were written in does not change the key. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * A message as the key sees it: role and text, plus whatever else it carries
 * (images, tool calls, the call a result answers). A plain message keeps the
 * short form, so keys stored before tools existed still match.
 */
function keyOfMessage(message: ChatMessage): unknown[] {
  const { role, content, ...rest } = message;
  return Object.keys(rest).length ? [role, content, sortedKeys(rest)] : [role, content];
}

/** A cached answer replayed as a stream: the same events a live one gives, in small pieces, marked cached. */
export function replay(completion: Completion): StreamEvent[][] {
  const pieces = (text: string): string[] => text.match(/[\s\S]{1,64}/g) ?? [];
  const { reasoning, toolCalls = [], refusal } = completion;
  const reasoningEvents: StreamEvent[] = reasoning
    ? [
        ...pieces(reasoning.text).map((text) => ({ type: 'reasoning' as const, text })),
        ...(reasoning.signature ? [{ type: 'reasoning' as const, text: '', signature: reasoning.signature }] : []),
        ...(reasoning.redacted ?? []).map((redacted) => ({ type: 'reasoning' as const, text: '', redacted })),
      ]
    : [];
  // An Anthropic refusal is its stop reason with the text as the explanation; only a separate refusal is replayed as one.
  const refusalEvents: StreamEvent[] =
    refusal && refusal !== completion.text ? [{ type: 'refusal', text: refusal }] : [];
  return [
    [{ type: 'response', status: 200, requestId: completion.requestId, headers: {}, cached: true }],
    ...reasoningEvents.map((event) => [event]),
    ...pieces(completion.text).map((text) => [{ type: 'text' as const, text }]),
    ...refusalEvents.map((event) => [event]),
    ...toolCalls.map((call, index): StreamEvent[] => [
      { type: 'toolCallDelta', index, id: call.id, name: call.name, arguments: call.arguments },
      { type: 'toolCall', call },
    ]),
    [
      { type: 'usage', ...completion.usage },
      ...(completion.finishReason
        ? [{ type: 'finish' as const, reason: completion.finishReason, providerReason: completion.providerReason }]
        : []),
    ],
  ];
}
