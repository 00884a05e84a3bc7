import { parseArgs, type ParseArgsConfig } from 'node:util';
import { endpointOrigin, isProviderKind, resolveTimeouts, type Endpoint, type ProviderKind, type Timeouts } from '../core';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const CHAT_USAGE = `Usage: flowgate chat --provider openai|anthropic|ollama --base-url URL --model NAME [options] PROMPT

Streams one answer to stdout. Without PROMPT, the prompt is read from stdin.

Options:
  --provider P              openai (any OpenAI-compatible API), anthropic or ollama
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
  --total-timeout MS        the whole call (default 600000); 0 turns any limit off
  --stats                   print one JSON line of timings and usage to stderr
  -h, --help                show this help

Exit codes: 0 done, 1 the request failed, 2 usage error, 3 timeout, 130 interrupted.`;

const CHAT_OPTIONS = {
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
  stats: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export interface ChatArgs {
  endpoint: Endpoint;
  /** The endpoint's origin, checked before anything is sent. */
  origin: string;
  system?: string;
  maxTokens?: number;
  timeouts: Timeouts;
  stats: boolean;
  /** undefined: read the prompt from stdin. */
  prompt?: string;
  help: boolean;
}

const DEFAULT_KEY_ENV: Record<ProviderKind, string | undefined> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  ollama: undefined,
};

export function parseChatArgs(argv: string[], env: NodeJS.ProcessEnv): ChatArgs {
  const { values, positionals } = parseStrict(argv);
  if (values.help) return { help: true, stats: false, timeouts: resolveTimeouts(), endpoint: { provider: 'ollama', baseUrl: '', model: '' }, origin: '' };
  const provider = values.provider;
  if (!isProviderKind(provider)) throw new UsageError(`--provider must be openai, anthropic or ollama${provider ? `; got ${JSON.stringify(provider)}` : ''}.`);
  const baseUrl = required(values['base-url'], '--base-url');
  const model = required(values.model, '--model');
  const endpoint: Endpoint = { provider, baseUrl, model, apiKey: apiKeyFrom(provider, values['api-key-env'], env) };
  return {
    endpoint,
    origin: endpointOrigin(endpoint),
    system: values.system,
    maxTokens: optionalInt(values['max-tokens'], '--max-tokens', 1),
    timeouts: timeoutsFrom(values),
    stats: values.stats,
    prompt: positionals.length ? positionals.join(' ') : undefined,
    help: false,
  };
}

function parseStrict(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: CHAT_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required.`);
  return value;
}

function optionalInt(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min) throw new UsageError(`${flag} must be a whole number of at least ${min}; got ${JSON.stringify(value)}.`);
  return number;
}

function timeoutsFrom(values: Record<string, unknown>): Timeouts {
  const read = (flag: string): number | undefined => optionalInt(values[flag] as string | undefined, `--${flag}`, 0);
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
