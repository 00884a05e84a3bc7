import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  endpointOrigin,
  isProviderKind,
  redisWhere,
  resolveTimeouts,
  type DoctorEndpoint,
  type Endpoint,
  type ProviderKind,
  type Timeouts,
} from '../core';
import type { AutoRules, BatchMode, PromptCacheSetting } from '../core/batch';
import type { ModelPrice } from '../core';
import { DEFAULT_AUTO_RULES } from '../core/batch';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const ENDPOINT_HELP = `  --provider P              openai (any OpenAI-compatible API), anthropic or ollama
  --base-url URL            as the official SDK takes it: OpenAI's includes /v1
                            (http://127.0.0.1:8000/v1); Anthropic's and Ollama's are the
                            bare origin (http://127.0.0.1:11434)
  --model NAME              the model to ask
  --api-key-env VAR         environment variable holding the key
                            (default OPENAI_API_KEY or ANTHROPIC_API_KEY; none for Ollama)
  --system TEXT             a system prompt
  --max-tokens N            the most tokens to generate
  --connect-timeout MS      connection set-up limit (default 10000)
  --first-token-timeout MS  request sent to first token (default 120000)
  --idle-timeout MS         longest gap between tokens (default 30000)
  --total-timeout MS        the whole call, retries included (default 600000); 0 turns any limit off
  --rpm N                   requests per minute to stay under (default: learnt from the provider's headers)
  --tpm N                   tokens per minute to stay under (default: learnt from the provider's headers)
  --max-retries N           retries after a 429, 5xx or refused connection (default 3)
  --redact                  replace API keys, private keys, card numbers and emails in the prompt
                            with placeholders before it is sent
  --redis URL               share the endpoint's RPM/TPM budgets and 429 pauses with every other
                            Flowgate using the same Redis (redis:// or rediss://; default
                            FLOWGATE_REDIS_URL; the password from FLOWGATE_REDIS_PASSWORD)`;

export const CHAT_USAGE = `Usage: flowgate chat --provider openai|anthropic|ollama --base-url URL --model NAME [options] PROMPT

Streams one answer to stdout. Without PROMPT, the prompt is read from stdin.

Options:
${ENDPOINT_HELP}
  --concurrency N           requests on the wire at once (default 8)
  --stats                   print one JSON line of timings and usage to stderr
  --json                    write every event (text, reasoning, tool calls, refusal, usage,
                            finish, retries) to stdout as one JSON line each, instead of the text
  --reasoning show|hide     show the model's reasoning on stderr as it streams (default hide)
  -h, --help                show this help

Tool calls the model asks for and refusals are said on stderr; flowgate chat runs no tools.

Exit codes: 0 answered, 1 the request failed, 2 usage error, 3 timeout, 4 the model answered
without an answer (a refusal, a content filter, or tool calls only), 130 interrupted.`;

export const BENCH_USAGE = `Usage: flowgate bench --provider P --base-url URL --model NAME --requests N --concurrency C [options]

Sends N requests through the whole engine, C at a time, and prints one JSON summary to stdout.

Options:
${ENDPOINT_HELP}
  --requests N              how many requests to send
  --concurrency C           how many at once
  --stream                  stream the answers (default: one JSON answer each)
  --prompt TEXT             the prompt (default "Say hello.")
  -h, --help                show this help`;

export const BATCH_USAGE = `Usage: flowgate batch --provider P --base-url URL --model NAME (--prompt TEXT | --prompt-file F) --out DIR [options] FILE...

Runs one prompt over many files and writes one answer per file under DIR, mirroring each
file's path relative to this folder (src/a.ts -> DIR/src/a.ts.md), and DIR/report.json.
Folders are walked, honouring .gitignore; symbolic links are skipped, never followed, and
nothing is written through one. DIR may sit inside an input folder (it is left out), but
must not be an input or hold one. Running the same command again resumes: files already
done are not requested again, unless their content changed or their answer was deleted.
One run at a time per DIR: a second one is refused while the first runs.

The prompt may use {{content}}, {{path}} and {{language}}; without {{content}} the file is
appended to it.

Options:
${ENDPOINT_HELP}
  --prompt TEXT             the prompt for every file
  --prompt-file F           or read it from a file
  --out DIR                 where the answers and report.json go
  --concurrency N           files in flight at once (default 4)
  --dry-run                 send nothing; print what would be sent, its tokens, the time the limits
                            imply and (with --price) both modes' cost, as JSON
  --mode live|provider|auto live (default): one request per file; provider: the whole run as provider
                            batches (OpenAI's Batch API, Anthropic's Message Batches: half price,
                            answered within 24 h); auto: provider for runs of --auto-min-files or
                            more when --deadline-hours allows 24 h, live otherwise. A provider run
                            that is stopped or killed resumes polling when run again
  --deadline-hours N        auto: how long you can wait for the answers (default 24)
  --auto-min-files N        auto: fewer files to send than this run live (default 100)
  --poll-ms N               provider mode: first wait between polls, doubling up to 60 s (default 5000)
  --prompt-cache off|5m|1h  cache the prompt's shared beginning (system prompt, template up to the
                            file): Anthropic's cache_control for 5 min or 1 h, one OpenAI
                            prompt_cache_key per job (default 5m)
  --price input=N,output=N[,cached=N,write=N,batch=SHARE]
                            the model's price in $ per million tokens: the dry run compares both
                            modes' cost, and the report says what the run cost and the cache saved
  --join NAME               with --redis: work on the job together with every process that joins
                            NAME (here or on other machines, writing to the same DIR): items are
                            leased through Redis, each result is written once, one report covers all
  --lease-ms N              --join: how long a process may go silent before its items go to another
                            (default 30000)
  --status DIR              show the state of the job(s) in DIR and send nothing; with the endpoint
                            flags, also ask the provider where each open provider batch is
  --reasoning show|hide     write the model's reasoning into each output, folded above the answer
                            (default hide: outputs hold the answer only)
  --max-file-bytes N        skip larger files (default 262144)
  --allow-secrets           also send files that look like secrets (.env, *.pem, id_rsa, ...)
  --allow-binary            also send files that look binary
  -h, --help                show this help

Exit codes: 0 every file ok or skipped, 1 some failed or the run was refused (DIR in use, a
link where a file would go), 2 usage error, 130 interrupted.`;

export const DOCTOR_USAGE = `Usage: flowgate doctor --provider openai|anthropic|ollama --base-url URL [--model NAME] [options]

Checks an endpoint step by step: the proxy in use, DNS, TCP, TLS, then (with --model) one tiny
request for time to headers, time to first token, tokens per second and the rate-limit headers.
Prints a report to paste into a bug report; exits 0 when everything checked is fine, 1 otherwise.

Options:
  --provider P              openai, openai-responses, anthropic or ollama
  --base-url URL            as the official SDK takes it
  --model NAME              the model to time a request with (optional)
  --api-key-env VAR         environment variable holding the key
  --connect-timeout MS      connection limit (default 10000)
  --first-token-timeout MS  first-token limit (default 120000)
  -h, --help                show this help`;

const ENDPOINT_OPTIONS = {
  provider: { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  'api-key-env': { type: 'string' },
  system: { type: 'string' },
  'max-tokens': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'first-token-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'total-timeout': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  concurrency: { type: 'string' },
  'max-retries': { type: 'string' },
  redact: { type: 'boolean', default: false },
  redis: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

const CHAT_OPTIONS = {
  ...ENDPOINT_OPTIONS,
  stats: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  reasoning: { type: 'string', default: 'hide' },
} as const satisfies ParseArgsConfig['options'];
const BENCH_OPTIONS = {
  ...ENDPOINT_OPTIONS,
  requests: { type: 'string' },
  stream: { type: 'boolean', default: false },
  prompt: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** What chat and bench share: where to send, how long to wait, how fast to go. */
const BATCH_OPTIONS = {
  ...ENDPOINT_OPTIONS,
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  mode: { type: 'string', default: 'live' },
  'poll-ms': { type: 'string' },
  'deadline-hours': { type: 'string' },
  'auto-min-files': { type: 'string' },
  'prompt-cache': { type: 'string', default: '5m' },
  price: { type: 'string' },
  status: { type: 'string' },
  join: { type: 'string' },
  'lease-ms': { type: 'string' },
  reasoning: { type: 'string', default: 'hide' },
  'max-file-bytes': { type: 'string' },
  'allow-secrets': { type: 'boolean', default: false },
  'allow-binary': { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export interface EndpointArgs {
  endpoint: Endpoint;
  /** The endpoint's origin, checked before anything is sent. */
  origin: string;
  system?: string;
  maxTokens?: number;
  timeouts: Timeouts;
  maxAttempts: number;
  redact: boolean;
  /** Where limits are shared with other processes, when they are. */
  redisUrl?: string;
}

export interface ChatArgs extends EndpointArgs {
  stats: boolean;
  json: boolean;
  reasoning: 'show' | 'hide';
  /** undefined: read the prompt from stdin. */
  prompt?: string;
}

export interface BenchArgs extends EndpointArgs {
  requests: number;
  concurrency: number;
  stream: boolean;
  prompt: string;
}

export interface BatchArgs extends EndpointArgs {
  /** Inline prompt; or the file to read it from. */
  prompt?: string;
  promptFile?: string;
  out: string;
  files: string[];
  concurrency: number;
  dryRun: boolean;
  mode: BatchMode;
  /** What `--mode auto` weighs. */
  auto: AutoRules;
  promptCache: PromptCacheSetting;
  /** The model's price, for the dry run's comparison and the report's cost. */
  price?: ModelPrice;
  /** Work on the job with every process that joins the same name through the same Redis. */
  join?: string;
  /** Joined: how long an item may go unrenewed before another process takes it. */
  leaseMs?: number;
  /** Provider mode: the first wait between polls. */
  pollMs?: number;
  /** Write the model's reasoning into each output, folded above the answer. */
  writeReasoning: boolean;
  maxFileBytes?: number;
  allowSecrets: boolean;
  allowBinary: boolean;
}

export type Parsed<T> = { help: true } | ({ help: false } & T);

const DEFAULT_KEY_ENV: Record<ProviderKind, string | undefined> = {
  openai: 'OPENAI_API_KEY',
  'openai-responses': 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  ollama: undefined,
};

export const DEFAULT_MAX_RETRIES = 3;

function reasoningChoice(value: string): 'show' | 'hide' {
  if (value === 'show' || value === 'hide') return value;
  throw new UsageError(`--reasoning takes show or hide, not ${JSON.stringify(value)}.`);
}

export function parseChatArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed<ChatArgs> {
  const { values, positionals } = parseStrict(argv, CHAT_OPTIONS);
  if (values.help) return { help: true };
  return {
    help: false,
    ...endpointArgs(values, env),
    stats: values.stats,
    json: values.json,
    reasoning: reasoningChoice(values.reasoning),
    prompt: positionals.length ? positionals.join(' ') : undefined,
  };
}

export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed<BenchArgs> {
  const { values, positionals } = parseStrict(argv, BENCH_OPTIONS);
  if (values.help) return { help: true };
  if (positionals.length)
    throw new UsageError(
      `flowgate bench takes no positional arguments; got ${JSON.stringify(positionals.join(' '))}. Use --prompt.`,
    );
  const requests = optionalInt(values.requests, '--requests', 1);
  const concurrency = optionalInt(values.concurrency, '--concurrency', 1);
  if (requests === undefined) throw new UsageError('--requests is required.');
  if (concurrency === undefined) throw new UsageError('--concurrency is required.');
  return {
    help: false,
    ...endpointArgs(values, env),
    requests,
    concurrency,
    stream: values.stream,
    prompt: values.prompt ?? 'Say hello.',
  };
}

export interface DoctorArgs {
  endpoint: DoctorEndpoint;
  connectTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
}

const DOCTOR_OPTIONS = {
  provider: { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  'api-key-env': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'first-token-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export function parseDoctorArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed<DoctorArgs> {
  const { values, positionals } = parseStrict(argv, DOCTOR_OPTIONS);
  if (values.help) return { help: true };
  if (positionals.length)
    throw new UsageError(
      `flowgate doctor takes no positional arguments; got ${JSON.stringify(positionals.join(' '))}.`,
    );
  const provider = providerFrom(values.provider);
  const endpoint = {
    provider,
    baseUrl: required(values['base-url'], '--base-url'),
    model: values.model,
    apiKey: apiKeyFrom(provider, values['api-key-env'], env),
  };
  endpointOrigin({ ...endpoint, model: endpoint.model ?? 'none' });
  return {
    help: false,
    endpoint,
    connectTimeoutMs: optionalInt(values['connect-timeout'], '--connect-timeout', 1),
    firstTokenTimeoutMs: optionalInt(values['first-token-timeout'], '--first-token-timeout', 1),
  };
}

export function parseBatchArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed<BatchArgs> {
  const { values, positionals } = parseStrict(argv, BATCH_OPTIONS);
  if (values.help) return { help: true };
  if ((values.prompt === undefined) === (values['prompt-file'] === undefined))
    throw new UsageError('Give exactly one of --prompt TEXT or --prompt-file F.');
  const out = required(values.out, '--out');
  if (positionals.length === 0) throw new UsageError('Name the files or folders to run over.');
  const concurrency = optionalInt(values.concurrency, '--concurrency', 1) ?? 4;
  return {
    help: false,
    ...endpointArgs(values, env),
    prompt: values.prompt,
    promptFile: values['prompt-file'],
    out,
    files: positionals,
    concurrency,
    dryRun: values['dry-run'],
    mode: batchMode(values.mode),
    auto: {
      minFiles: optionalInt(values['auto-min-files'], '--auto-min-files', 1) ?? DEFAULT_AUTO_RULES.minFiles,
      deadlineMs: hoursFrom(values['deadline-hours']) ?? DEFAULT_AUTO_RULES.deadlineMs,
    },
    promptCache: promptCacheChoice(values['prompt-cache']),
    price: values.price === undefined ? undefined : priceFrom(values.price),
    ...joinFrom(values.join, values['lease-ms'], values.redis ?? env.FLOWGATE_REDIS_URL),
    pollMs: optionalInt(values['poll-ms'], '--poll-ms', 1),
    writeReasoning: reasoningChoice(values.reasoning) === 'show',
    maxFileBytes: optionalInt(values['max-file-bytes'], '--max-file-bytes', 1),
    allowSecrets: values['allow-secrets'],
    allowBinary: values['allow-binary'],
  };
}

function batchMode(value: string): BatchMode {
  if (value === 'live' || value === 'provider' || value === 'auto') return value;
  throw new UsageError(`--mode takes live, provider or auto; got ${JSON.stringify(value)}.`);
}

function joinFrom(
  name: string | undefined,
  leaseMs: string | undefined,
  redis: string | undefined,
): Pick<BatchArgs, 'join' | 'leaseMs'> {
  if (name === undefined) {
    if (leaseMs !== undefined) throw new UsageError('--lease-ms goes with --join NAME.');
    return {};
  }
  if (!/^[\w.-]{1,100}$/.test(name))
    throw new UsageError(`--join takes a name of letters, digits, '.', '_' and '-'; got ${JSON.stringify(name)}.`);
  if (!redis) throw new UsageError('--join needs --redis URL (or FLOWGATE_REDIS_URL): the job is shared through it.');
  return { join: name, leaseMs: optionalInt(leaseMs, '--lease-ms', 1000) };
}

function promptCacheChoice(value: string): PromptCacheSetting {
  if (value === 'off' || value === '5m' || value === '1h') return value;
  throw new UsageError(`--prompt-cache takes off, 5m or 1h; got ${JSON.stringify(value)}.`);
}

function hoursFrom(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const hours = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(hours > 0))
    throw new UsageError(`--deadline-hours must be a number of hours above 0; got ${JSON.stringify(value)}.`);
  return hours * 3_600_000;
}

/** `input=2,output=8,cached=0.5,write=2.5,batch=0.5`: dollars per million tokens, and the batch share. */
export function priceFrom(value: string): ModelPrice {
  const names = {
    input: 'input',
    output: 'output',
    cached: 'cachedInput',
    write: 'cacheWrite',
    batch: 'batch',
  } as const;
  const price: Partial<Record<(typeof names)[keyof typeof names], number>> = {};
  for (const part of value.split(',')) {
    const [name, amount] = part.split('=').map((p) => p.trim());
    const field = names[name as keyof typeof names];
    const number = Number(amount);
    if (!field || !amount || !Number.isFinite(number) || number < 0 || (field === 'batch' && number > 1))
      throw new UsageError(
        `--price takes input=N,output=N[,cached=N,write=N,batch=SHARE] in dollars per million tokens (batch: the share of the price a provider batch costs, 0 to 1); got ${JSON.stringify(value)}.`,
      );
    price[field] = number;
  }
  if (price.input === undefined || price.output === undefined)
    throw new UsageError(`--price needs at least input=N and output=N; got ${JSON.stringify(value)}.`);
  return price as ModelPrice;
}

export interface BatchStatusArgs {
  dir: string;
  /** When the endpoint is given too, each open provider batch is asked where it is. */
  endpoint?: Endpoint;
}

/** `flowgate batch --status DIR [--provider P --base-url URL ...]`: the rest of a batch command line may stay. */
export function parseBatchStatusArgs(argv: string[], env: NodeJS.ProcessEnv): BatchStatusArgs {
  const { values } = parseStrict(argv, BATCH_OPTIONS);
  const dir = required(values.status, '--status');
  if (values.provider === undefined) return { dir };
  return { dir, endpoint: endpointArgs({ ...values, model: values.model ?? 'unused' }, env).endpoint };
}

function parseStrict<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

type EndpointValues = { [K in keyof typeof ENDPOINT_OPTIONS]?: string | boolean };

function endpointArgs(values: EndpointValues, env: NodeJS.ProcessEnv): EndpointArgs {
  const provider = providerFrom(values.provider as string | undefined);
  const text = (flag: keyof typeof ENDPOINT_OPTIONS): string | undefined => values[flag] as string | undefined;
  const endpoint: Endpoint = {
    provider,
    baseUrl: required(text('base-url'), '--base-url'),
    model: required(text('model'), '--model'),
    apiKey: apiKeyFrom(provider, text('api-key-env'), env),
    rpm: optionalInt(text('rpm'), '--rpm', 1),
    tpm: optionalInt(text('tpm'), '--tpm', 1),
    concurrency: optionalInt(text('concurrency'), '--concurrency', 1),
  };
  return {
    endpoint,
    origin: endpointOrigin(endpoint),
    system: text('system'),
    maxTokens: optionalInt(text('max-tokens'), '--max-tokens', 1),
    timeouts: timeoutsFrom(text),
    maxAttempts: (optionalInt(text('max-retries'), '--max-retries', 0) ?? DEFAULT_MAX_RETRIES) + 1,
    redact: values.redact === true,
    redisUrl: redisUrlFrom(text('redis') ?? (env.FLOWGATE_REDIS_URL || undefined)),
  };
}

function redisUrlFrom(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    redisWhere(value);
  } catch (error) {
    throw new UsageError(`--redis: ${(error as Error).message}`);
  }
  return value;
}

function providerFrom(value: string | undefined): ProviderKind {
  if (!isProviderKind(value))
    throw new UsageError(
      `--provider must be openai, openai-responses, anthropic or ollama${value ? `; got ${JSON.stringify(value)}` : ''}.`,
    );
  return value;
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required.`);
  return value;
}

function optionalInt(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min)
    throw new UsageError(`${flag} must be a whole number of at least ${min}; got ${JSON.stringify(value)}.`);
  return number;
}

function timeoutsFrom(text: (flag: keyof typeof ENDPOINT_OPTIONS) => string | undefined): Timeouts {
  const read = (
    flag: 'connect-timeout' | 'first-token-timeout' | 'idle-timeout' | 'total-timeout',
  ): number | undefined => optionalInt(text(flag), `--${flag}`, 0);
  return resolveTimeouts({
    connectMs: read('connect-timeout'),
    firstTokenMs: read('first-token-timeout'),
    idleMs: read('idle-timeout'),
    totalMs: read('total-timeout'),
  });
}

function apiKeyFrom(provider: ProviderKind, named: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (named !== undefined) {
    const key = env[named];
    if (!key) throw new UsageError(`--api-key-env names ${named}, but that environment variable is not set.`);
    return key;
  }
  const fallback = DEFAULT_KEY_ENV[provider];
  return fallback ? env[fallback] || undefined : undefined;
}
