/**
 * Shared state in Redis, through ioredis. Every call fails fast rather than
 * waiting: no offline queue, no retries per command, and a command timeout
 * of a few milliseconds. When Redis is slow or gone, each gate falls back
 * to local buckets at its share of the rate (1/N, N the participants last
 * seen), warns once, and rejoins when Redis answers again; ioredis keeps
 * reconnecting in the background.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { rootCertificates } from 'node:tls';
import { Redis } from 'ioredis';
import { ConfigError, NetworkError } from '../errors';
import { TokenBucket, SAFETY_MARGIN_MS } from '../flow/token-bucket';
import type { Completion, Endpoint } from '../types';
import { LEARN, PAUSE, PROBE, PROBE_DONE, REFUND, TAKE } from './bucket-scripts';
import { CACHE_SET, REFRESH, UNLOCK } from './cache-scripts';
import {
  sharedScope,
  type ProbeClaim,
  type SharedCache,
  type SharedGate,
  type SharedLimits,
  type SharedLock,
  type SharedState,
  type SharedStatus,
} from './shared-state';

/**
 * How long a claim on the team's probe, and the word that it found the
 * endpoint well, hold: a prober that dies frees the claim after this.
 */
const PROBE_CLAIM_MS = 60_000;

export interface RedisStateOptions {
  /** Kept apart from the URL so that it can live in the editor's secret storage. */
  password?: string;
  /** A CA certificate (PEM) to trust for rediss://, besides the system's and NODE_EXTRA_CA_CERTS. */
  ca?: string;
  /** The longest a request may wait on Redis, in ms. @default 25 */
  commandTimeoutMs?: number;
  /** The first connection's limit, in ms. @default 3000 */
  connectTimeoutMs?: number;
  /** Said once when sharing degrades, and once when it comes back. */
  onNotice?: (text: string) => void;
  /** How long a shared answer is kept, in ms. @default 7 days */
  cacheTtlMs?: number;
  /** The most bytes of answers kept in Redis; the oldest go first. @default 64 MB */
  cacheBytes?: number;
  /**
   * How long the right to ask a question outlives a holder that stopped
   * renewing it (it renews while it works), in ms. @default 15 s
   */
  lockMs?: number;
}

type ScriptClient = Redis & {
  flowgateTake(...args: (string | number)[]): Promise<[number, number, number]>;
  flowgateRefund(...args: (string | number)[]): Promise<number>;
  flowgatePause(...args: (string | number)[]): Promise<number>;
  flowgateLearn(...args: (string | number)[]): Promise<number>;
  flowgateCacheSet(...args: (string | number)[]): Promise<number>;
  flowgateUnlock(...args: (string | number)[]): Promise<number>;
  flowgateRefresh(...args: (string | number)[]): Promise<number>;
  flowgateProbe(...args: (string | number)[]): Promise<[ProbeClaim['verdict'], number]>;
  flowgateProbeDone(...args: (string | number)[]): Promise<number>;
};

/** Connects, and fails with a clear, typed error when Redis cannot be used: unreachable, wrong password, TLS. */
export async function connectRedisState(url: string, options: RedisStateOptions = {}): Promise<RedisSharedState> {
  const where = redisWhere(url);
  let redis: ScriptClient;
  try {
    redis = new Redis(url, {
      password: options.password || undefined,
      ...(options.ca ? { tls: { ca: [...rootCertificates, options.ca] } } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 25,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      retryStrategy: (times) => Math.min(250 * times, 2000),
    }) as ScriptClient;
  } catch (error) {
    throw new ConfigError(`The Redis URL ${JSON.stringify(where)} is not valid: ${(error as Error).message}`);
  }
  // Errors after the first connection are the gates' to report; ioredis would print them otherwise.
  // The first one says why connecting failed (connect() itself only says the connection closed).
  let firstError: unknown;
  redis.on('error', (error: unknown) => (firstError ??= error));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw connectionError(where, firstError ?? error);
  }
  redis.defineCommand('flowgateTake', { numberOfKeys: 6, lua: TAKE });
  redis.defineCommand('flowgateLearn', { numberOfKeys: 1, lua: LEARN });
  redis.defineCommand('flowgateRefund', { numberOfKeys: 1, lua: REFUND });
  redis.defineCommand('flowgatePause', { numberOfKeys: 1, lua: PAUSE });
  redis.defineCommand('flowgateCacheSet', { numberOfKeys: 3, lua: CACHE_SET });
  redis.defineCommand('flowgateUnlock', { numberOfKeys: 1, lua: UNLOCK });
  redis.defineCommand('flowgateRefresh', { numberOfKeys: 1, lua: REFRESH });
  redis.defineCommand('flowgateProbe', { numberOfKeys: 2, lua: PROBE });
  redis.defineCommand('flowgateProbeDone', { numberOfKeys: 1, lua: PROBE_DONE });
  return new RedisSharedState(redis, where, options);
}

export class RedisSharedState implements SharedState {
  readonly participant = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly cache: SharedCache;
  private readonly gates = new Map<string, RedisGate>();
  private problem: string | undefined;
  private readonly onNotice: (text: string) => void;

  constructor(
    readonly redis: ScriptClient,
    readonly where: string,
    options: RedisStateOptions = {},
  ) {
    this.onNotice = options.onNotice ?? (() => {});
    this.cache = new RedisCache(this, {
      ttlMs: options.cacheTtlMs ?? 7 * 24 * 3_600_000,
      bytes: options.cacheBytes ?? 64 * 1024 * 1024,
      lockMs: options.lockMs ?? 15_000,
    });
  }

  gateFor(endpoint: Endpoint): SharedGate {
    const scope = sharedScope(endpoint);
    let gate = this.gates.get(scope);
    if (!gate) this.gates.set(scope, (gate = new RedisGate(this, scope)));
    return gate;
  }

  statusWith(participants: number): SharedStatus {
    return {
      where: this.where,
      connected: this.usable && !this.problem,
      participants,
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Whether to ask Redis now: connected, and not in the middle of a fallback that failed a moment ago. */
  get usable(): boolean {
    return this.redis.status === 'ready';
  }

  failed(error: unknown): void {
    if (this.problem) return;
    this.problem = `${this.where}: ${describe(error)}`;
    this.onNotice(
      `Shared limits are unavailable (${this.problem}); each process now keeps to its share of the endpoint's limits until Redis answers again.`,
    );
  }

  recovered(): void {
    if (!this.problem) return;
    this.problem = undefined;
    this.onNotice(`Shared limits are back: ${this.where} answers again.`);
  }
}

class RedisGate implements SharedGate {
  /** Processes seen on this budget (this one included), as Redis last said. */
  participants = 1;
  private readonly keys: string[];
  private local: { rpm?: TokenBucket; tpm?: TokenBucket } = {};
  /** The limits last told to Redis. */
  private learnt = '';
  /** Until when a breaker some process opened holds the endpoint off, as the last take said. */
  private openUntil: number | undefined;
  private readonly probeKey: string;
  /** This process holds the team's probe. */
  private probing = false;

  constructor(
    private readonly state: RedisSharedState,
    scope: string,
  ) {
    this.keys = ['rpm', 'tpm', 'pause', 'who', 'learnt', 'breaker'].map((name) => `flowgate:v1:${scope}:${name}`);
    this.probeKey = `flowgate:v1:${scope}:probe`;
  }

  async take(limits: SharedLimits, tokens: number): Promise<number> {
    if (this.state.usable) {
      try {
        const [wait, participants, breakerMs] = await this.state.redis.flowgateTake(
          ...this.keys,
          limits.rpm ?? 0,
          limits.tpm ?? 0,
          tokens,
          this.state.participant,
          SAFETY_MARGIN_MS,
        );
        this.participants = Math.max(1, participants);
        this.openUntil = breakerMs > 0 ? Date.now() + breakerMs : undefined;
        this.state.recovered();
        return wait;
      } catch (error) {
        this.state.failed(error);
      }
    } else this.state.failed(new Error(`not connected (${this.state.redis.status})`));
    return this.takeLocally(limits, tokens);
  }

  refund(limits: SharedLimits, tokens: number): void {
    if (!limits.tpm || tokens <= 0) return;
    if (this.state.usable)
      void this.state.redis
        .flowgateRefund(this.keys[1]!, 0, limits.tpm, tokens, '', SAFETY_MARGIN_MS)
        .catch((error: unknown) => this.state.failed(error));
    else this.local.tpm?.refund(tokens, Date.now());
  }

  breakerOpened(until: number): void {
    const ms = Math.ceil(until - Date.now());
    if (ms <= 0 || !this.state.usable) return;
    void this.state.redis.flowgatePause(this.keys[5]!, ms).catch((error: unknown) => this.state.failed(error));
    // A "healthy" left by an earlier probe no longer holds; the next cool-down needs a probe of its own.
    void this.state.redis.del(this.probeKey).catch((error: unknown) => this.state.failed(error));
  }

  async claimProbe(): Promise<ProbeClaim> {
    if (!this.state.usable) return { verdict: 'probe' };
    try {
      const [verdict, ms] = await this.state.redis.flowgateProbe(
        this.keys[5]!,
        this.probeKey,
        this.state.participant,
        PROBE_CLAIM_MS,
      );
      if (verdict === 'probe') this.probing = true;
      return verdict === 'wait' || verdict === 'open' ? { verdict, ms } : { verdict };
    } catch (error) {
      this.state.failed(error);
      return { verdict: 'probe' };
    }
  }

  probeFinished(healthy: boolean): void {
    if (!this.probing) return;
    this.probing = false;
    if (!this.state.usable) return;
    // Healthy: every process that cools down after this closes at once. Not: the claim is free again
    // (a probe that failed on the endpoint's health has opened the breaker for everyone already).
    void this.state.redis
      .flowgateProbeDone(this.probeKey, this.state.participant, healthy ? 'healthy' : 'free', PROBE_CLAIM_MS)
      .catch((error: unknown) => this.state.failed(error));
  }

  breakerUntil(): number | undefined {
    return this.openUntil;
  }

  learn(limits: SharedLimits): void {
    const key = `${limits.rpm ?? 0}/${limits.tpm ?? 0}`;
    // Headers come with every response; Redis hears only when they say something new.
    if (key === this.learnt || !this.state.usable) return;
    this.learnt = key;
    void this.state.redis
      .flowgateLearn(this.keys[4]!, limits.rpm ?? 0, limits.tpm ?? 0)
      .catch((error: unknown) => this.state.failed(error));
  }

  pause(until: number): void {
    const ms = Math.ceil(until - Date.now());
    if (ms <= 0 || !this.state.usable) return;
    void this.state.redis.flowgatePause(this.keys[2]!, ms).catch((error: unknown) => this.state.failed(error));
  }

  status(): SharedStatus {
    return this.state.statusWith(this.participants);
  }

  /** Redis is out of reach: this process keeps to 1/N of each limit, N the participants last seen. */
  private takeLocally(limits: SharedLimits, tokens: number): number {
    const now = Date.now();
    const share = (rate: number | undefined): number | undefined => rate && rate / this.participants;
    this.local.rpm = bucketAt(this.local.rpm, share(limits.rpm), now);
    this.local.tpm = bucketAt(this.local.tpm, share(limits.tpm), now);
    const wait = Math.max(this.local.rpm?.waitMs(1, now) ?? 0, this.local.tpm?.waitMs(tokens, now) ?? 0);
    if (wait > 0) return wait;
    this.local.rpm?.take(1, now);
    this.local.tpm?.take(tokens, now);
    return 0;
  }
}

const CACHE = 'flowgate:v1:cache';
/** How often a follower looks whether the leader's answer is there. */
const FOLLOW_POLL_MS = 50;

class RedisCache implements SharedCache {
  constructor(
    private readonly state: RedisSharedState,
    private readonly limits: { ttlMs: number; bytes: number; lockMs: number },
  ) {}

  async get(key: string): Promise<Completion | undefined> {
    if (!this.state.usable) return undefined;
    try {
      const text = await this.state.redis.get(`${CACHE}:${key}`);
      return text ? (JSON.parse(text) as Completion) : undefined;
    } catch (error) {
      this.state.failed(error);
      return undefined;
    }
  }

  async set(key: string, completion: Completion): Promise<void> {
    if (!this.state.usable) return;
    await this.state.redis
      .flowgateCacheSet(
        `${CACHE}:${key}`,
        `${CACHE}-index`,
        `${CACHE}-bytes`,
        JSON.stringify(completion),
        this.limits.ttlMs,
        this.limits.bytes,
        key,
      )
      .catch((error: unknown) => this.state.failed(error));
  }

  async lead(key: string): Promise<SharedLock | undefined> {
    // Without Redis every process leads for itself, as it would alone.
    const mine: SharedLock = { release: async () => {} };
    if (!this.state.usable) return mine;
    const lock = `${CACHE}:${key}:lock`;
    const token = `${this.state.participant}:${randomBytes(4).toString('hex')}`;
    try {
      const taken = await this.state.redis.set(lock, token, 'PX', this.limits.lockMs, 'NX');
      if (taken !== 'OK') return undefined;
    } catch (error) {
      this.state.failed(error);
      return mine;
    }
    // Renewed while this process works on the answer, so that only a holder that died lets it lapse.
    const renew = setInterval(() => {
      void this.state.redis.flowgateRefresh(lock, token, this.limits.lockMs).catch(() => {});
    }, this.limits.lockMs / 3);
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        await this.state.redis.flowgateUnlock(lock, token).catch(() => {});
      },
    };
  }

  async follow(key: string, signal?: AbortSignal): Promise<Completion | undefined> {
    const lock = `${CACHE}:${key}:lock`;
    while (!signal?.aborted && this.state.usable) {
      try {
        const [answer, held] = await Promise.all([
          this.state.redis.get(`${CACHE}:${key}`),
          this.state.redis.exists(lock),
        ]);
        if (answer) return JSON.parse(answer) as Completion;
        if (!held) return undefined; // the leader gave up, failed or died: ask for ourselves
      } catch (error) {
        this.state.failed(error);
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
    return undefined;
  }
}

function bucketAt(bucket: TokenBucket | undefined, rate: number | undefined, now: number): TokenBucket | undefined {
  if (!rate) return undefined;
  if (!bucket) return TokenBucket.forRate(rate, now);
  if (bucket.rate !== rate) bucket.setRate(rate, now);
  return bucket;
}

/** The URL as it may be shown: scheme, host and port, never a password. */
export function redisWhere(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error('not a redis URL');
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    throw new ConfigError(
      'The Redis URL must look like redis://HOST:PORT or rediss://HOST:PORT (TLS); keep the password out of it (FLOWGATE_REDIS_PASSWORD for the CLI).',
    );
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').slice(0, 200);
}

/** The first connection's failure, in words that say what to do. */
function connectionError(where: string, error: unknown): Error {
  const message = describe(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message))
    return new ConfigError(
      `Redis at ${where} refused the credentials (${message.split('\n')[0]}); set the right password (FLOWGATE_REDIS_PASSWORD for the CLI).`,
    );
  if (/certificate|SSL|TLS|self.signed|EPROTO/i.test(message))
    return new NetworkError(
      `The TLS connection to Redis at ${where} failed: ${message}. Check the certificate and that the server speaks TLS (rediss://).`,
      { beforeSend: true, systemCode: code },
    );
  return new NetworkError(
    `Redis at ${where} cannot be reached (${code ?? message}); check that redis-server runs there and the URL (flowgate.sharedState.redisUrl, --redis or FLOWGATE_REDIS_URL).`,
    { beforeSend: true, systemCode: code },
  );
}
