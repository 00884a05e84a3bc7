/**
 * Every `flowgate.*` setting but the endpoint list: its default, and what a
 * valid value is. The one place defaults are written in code; package.json
 * declares the same ones for the Settings editor, and a test keeps the two
 * equal. No vscode import, so it is tested directly.
 */
import { DEFAULT_RETRY, DEFAULT_TIMEOUTS, type ModelPrice, type PriceTable } from '../../core';
import { DEFAULT_AUTO_RULES } from '../../core/batch';

/**
 * Reads one raw value: the typed value, or undefined when it is not valid.
 * A value made of entries may keep the good ones and report each one left
 * out through `problem`.
 */
interface Rule<T> {
  readonly default: T;
  /** What a valid value is, completing "flowgate.x must be …". */
  readonly expected: string;
  read(value: unknown, problem: (text: string) => void): T | undefined;
}

/** Timers run up to this (setTimeout's limit, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

function wholeNumber(fallback: number, min: number, max: number, expected: string): Rule<number> {
  return {
    default: fallback,
    expected,
    read: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined),
  };
}

function milliseconds(fallback: number): Rule<number> {
  return wholeNumber(fallback, 0, MAX_TIMER_MS, 'a whole number of milliseconds, 0 or more (0 turns the limit off)');
}

function hours(fallback: number): Rule<number> {
  return {
    default: fallback,
    expected: 'a number of hours above 0',
    read: (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined),
  };
}

/** Empty, or a redis:// or rediss:// URL without a password (that goes in the secret store). */
const redisUrl: Rule<string> = {
  default: '',
  expected: 'empty, or redis://HOST:PORT or rediss://HOST:PORT, with the password kept out of it',
  read: (v) => {
    if (v === '') return '';
    if (typeof v !== 'string') return undefined;
    try {
      const url = new URL(v);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && !url.password ? v : undefined;
    } catch {
      return undefined;
    }
  },
};

function amount(fallback: number): Rule<number> {
  return {
    default: fallback,
    expected: 'an amount of 0 or more (0 means no limit)',
    read: (v) => (isAmount(v) ? v : undefined),
  };
}

function oneOf<const T extends string>(fallback: T, values: readonly T[]): Rule<T> {
  return {
    default: fallback,
    expected: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
    read: (v) => values.find((value) => value === v),
  };
}

function name(fallback: string): Rule<string> {
  return {
    default: fallback,
    expected: 'a non-empty name',
    read: (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined),
  };
}

/** An endpoint id; empty means "the first endpoint". */
const endpointId: Rule<string> = {
  default: 'ollama',
  expected: 'an endpoint id',
  read: (v) => (typeof v === 'string' ? v : undefined),
};

function flag(fallback: boolean): Rule<boolean> {
  return { default: fallback, expected: 'true or false', read: (v) => (typeof v === 'boolean' ? v : undefined) };
}

const stringList: Rule<string[]> = {
  default: [],
  expected: 'a list of strings',
  read: (v) => (Array.isArray(v) && v.every((item) => typeof item === 'string') ? [...v] : undefined),
};

/** Named prompts; a template that is not text, or is blank, is left out rather than failing the rest. */
const templates: Rule<Record<string, string>> = {
  default: {
    Review: 'Review {{path}} ({{language}}). List bugs and risky code, most serious first.\n\n{{content}}',
    Document:
      'Write concise documentation comments for the public functions in {{path}}. Answer with the whole file.\n\n{{content}}',
  },
  expected: 'an object of template names to prompt texts',
  read(v, problem) {
    if (!isRecord(v)) return undefined;
    const kept = parseTemplates(v);
    for (const name of Object.keys(v).filter((key) => !(key in kept)))
      problem(`flowgate.batch.templates[${JSON.stringify(name)}] must be a prompt text; it is left out.`);
    return kept;
  },
};

/** The templates that are name-to-prompt strings, without blank ones. */
export function parseTemplates(raw: unknown): Record<string, string> {
  if (!isRecord(raw)) return {};
  return Object.fromEntries(
    Object.entries(raw).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1].trim() !== '',
    ),
  );
}

/** Example prices in US dollars per million tokens; a model without a price shows no cost. */
const prices: Rule<PriceTable> = {
  default: {
    'gpt-4o-mini': { input: 0.15, output: 0.6, cachedInput: 0.075 },
    'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
    'claude-sonnet-4-5': { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
    'claude-haiku-4-5': { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
  },
  expected:
    'an object of model names to { "input": …, "output": …, "cachedInput"?: …, "cacheWrite"?: …, "batch"?: … } prices per million tokens',
  read(v, problem) {
    if (!isRecord(v)) return undefined;
    const kept: PriceTable = {};
    for (const [model, price] of Object.entries(v)) {
      const parsed = priceOf(price);
      if (parsed) kept[model] = parsed;
      else
        problem(
          `flowgate.prices[${JSON.stringify(model)}] must be { "input": …, "output": … } in dollars per million tokens, with "cachedInput" and "cacheWrite" rates if the provider has them and "batch", the share of the price a provider batch costs (0 to 1); it is left out.`,
        );
    }
    return kept;
  },
};

export const RULES = {
  activeEndpoint: endpointId,
  'timeouts.connectMs': milliseconds(DEFAULT_TIMEOUTS.connectMs),
  'timeouts.firstTokenMs': milliseconds(DEFAULT_TIMEOUTS.firstTokenMs),
  'timeouts.idleMs': milliseconds(DEFAULT_TIMEOUTS.idleMs),
  'timeouts.totalMs': milliseconds(DEFAULT_TIMEOUTS.totalMs),
  'retry.maxAttempts': wholeNumber(DEFAULT_RETRY.maxAttempts, 1, 10, 'a whole number from 1 to 10'),
  'batch.templates': templates,
  'batch.concurrency': wholeNumber(4, 1, 64, 'a whole number from 1 to 64'),
  'batch.outputFolder': name('flowgate-output'),
  'batch.outputSuffix': name('flowgate'),
  'batch.mode': oneOf('live', ['live', 'provider', 'auto']),
  'batch.autoMinFiles': wholeNumber(DEFAULT_AUTO_RULES.minFiles, 1, 10_000_000, 'a whole number of files, 1 or more'),
  'batch.deadlineHours': hours(DEFAULT_AUTO_RULES.deadlineMs / 3_600_000),
  'batch.promptCache': oneOf('5m', ['off', '5m', '1h']),
  'redaction.mode': oneOf('warn', ['off', 'warn', 'redact']),
  'redaction.patterns': stringList,
  'metrics.prometheusPort': wholeNumber(0, 0, 65_535, 'a port from 1 to 65535, or 0 for off'),
  'sharedState.redisUrl': redisUrl,
  'cache.mode': oneOf('deterministic', ['deterministic', 'always', 'off']),
  prices,
  'budget.daily': amount(0),
  'budget.monthly': amount(0),
  'chat.showReasoning': flag(true),
} satisfies Record<string, Rule<unknown>>;

export type SettingKey = keyof typeof RULES;
export type SettingValues = { [K in SettingKey]: (typeof RULES)[K]['default'] };

/**
 * Reads every setting in RULES through `get` (the raw value, undefined when
 * unset). An invalid value falls back to the default, with one line saying
 * which setting, what it must be, and what is used instead.
 */
export function readRules(get: (key: SettingKey) => unknown): { values: SettingValues; problems: string[] } {
  const problems: string[] = [];
  const values = Object.fromEntries(
    (Object.entries(RULES) as [SettingKey, Rule<unknown>][]).map(([key, rule]) => {
      const raw = get(key);
      const value = raw === undefined ? rule.default : rule.read(raw, (text) => problems.push(text));
      if (value !== undefined) return [key, value];
      problems.push(`flowgate.${key} must be ${rule.expected}; using ${describeDefault(rule.default)}.`);
      return [key, rule.default];
    }),
  ) as SettingValues;
  return { values, problems };
}

function describeDefault(value: unknown): string {
  if (Array.isArray(value) && value.length === 0) return 'none';
  return typeof value === 'object' ? 'the default' : JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Input and output rates and the optional cache rates; anything else (a misspelt rate) makes it invalid. */
function priceOf(value: unknown): ModelPrice | undefined {
  if (!isRecord(value)) return undefined;
  const { input, output, cachedInput, cacheWrite, batch, ...rest } = value;
  if (!isAmount(input) || !isAmount(output) || Object.keys(rest).length) return undefined;
  if (![cachedInput, cacheWrite].every((rate) => rate === undefined || isAmount(rate))) return undefined;
  if (batch !== undefined && !(isAmount(batch) && batch <= 1)) return undefined;
  return {
    input,
    output,
    ...(cachedInput === undefined ? {} : { cachedInput: cachedInput as number }),
    ...(cacheWrite === undefined ? {} : { cacheWrite: cacheWrite as number }),
    ...(batch === undefined ? {} : { batch: batch }),
  };
}

function isAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
