import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DEFAULT_RETRY, DEFAULT_TIMEOUTS } from '../../src/core';
import { RULES } from '../../src/host/settings/rules';
import { DEFAULT_ENDPOINT, parseSettings } from '../../src/host/settings/settings-model';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
/** Every setting package.json declares, across its grouped sections. */
const declared: Record<string, { default?: unknown }> = Object.assign(
  {},
  ...[manifest.contributes.configuration].flat().map((section: { properties: object }) => section.properties),
);
const proxy = { proxy: undefined, noProxy: [], strictSSL: true };

/** Settings as VS Code would return them: `values` where set, undefined elsewhere. */
function read(values: Record<string, unknown> = {}) {
  return parseSettings((key) => values[key], proxy);
}

describe('the settings reader and package.json agree', () => {
  test('every flowgate.* setting in package.json is read, and nothing else', () => {
    const known = ['endpoints', ...Object.keys(RULES)].map((key) => `flowgate.${key}`).sort();
    expect(Object.keys(declared).sort()).toEqual(known);
  });

  test.each(Object.keys(RULES) as (keyof typeof RULES)[])('flowgate.%s has the same default in both', (key) => {
    expect(declared[`flowgate.${key}`]?.default).toEqual(RULES[key].default);
  });

  test('the endpoint list defaults to the one local Ollama endpoint', () => {
    expect(declared['flowgate.endpoints']?.default).toEqual([DEFAULT_ENDPOINT]);
  });

  test('VS Code hands the reader package.json defaults, which read back as the same settings', () => {
    const fromManifest = Object.fromEntries(
      Object.entries(declared).map(([key, spec]) => [key.slice('flowgate.'.length), spec.default]),
    );
    expect(read(fromManifest)).toEqual(read());
  });
});

describe('defaults', () => {
  test('unset settings take the engine defaults where the engine has them', () => {
    const { settings, problems } = read();
    expect(problems).toEqual([]);
    expect(settings.timeouts).toEqual(DEFAULT_TIMEOUTS);
    expect(settings.maxAttempts).toBe(DEFAULT_RETRY.maxAttempts);
    expect(settings.endpoints).toEqual([DEFAULT_ENDPOINT]);
    expect(settings).toMatchObject({
      activeEndpoint: 'ollama',
      redaction: { mode: 'warn', patterns: [] },
      batch: { concurrency: 4, outputFolder: 'flowgate-output', outputSuffix: 'flowgate' },
      metrics: { prometheusPort: 0 },
      cache: { mode: 'deterministic' },
      budget: { daily: 0, monthly: 0 },
    });
    expect(Object.keys(settings.batch.templates)).toEqual(['Review', 'Document']);
    expect(settings.prices['gpt-4o-mini']).toEqual({ input: 0.15, output: 0.6, cachedInput: 0.075 });
  });

  test('valid values are taken as they are', () => {
    const { settings, problems } = read({
      activeEndpoint: '',
      'timeouts.idleMs': 0,
      'retry.maxAttempts': 10,
      'redaction.mode': 'redact',
      'batch.concurrency': 64,
      'metrics.prometheusPort': 9464,
      'cache.mode': 'off',
      prices: { local: { input: 0, output: 0 } },
      'budget.daily': 2.5,
    });
    expect(problems).toEqual([]);
    expect(settings.activeEndpoint).toBeUndefined();
    expect(settings.timeouts.idleMs).toBe(0);
    expect(settings).toMatchObject({
      maxAttempts: 10,
      redaction: { mode: 'redact' },
      batch: { concurrency: 64 },
      metrics: { prometheusPort: 9464 },
      cache: { mode: 'off' },
      prices: { local: { input: 0, output: 0 } },
      budget: { daily: 2.5 },
    });
  });
});

describe('invalid values', () => {
  test('each falls back to its default with one line naming the setting', () => {
    const { settings, problems } = read({
      'timeouts.idleMs': -5,
      'timeouts.totalMs': 1.5,
      'retry.maxAttempts': 0,
      'redaction.mode': 'loud',
      'redaction.patterns': 'sk-.*',
      'batch.concurrency': '8',
      'batch.outputFolder': '  ',
      'metrics.prometheusPort': 70_000,
      'cache.mode': true,
      'budget.monthly': -1,
    });
    expect(problems).toEqual([
      'flowgate.timeouts.idleMs must be a whole number of milliseconds, 0 or more (0 turns the limit off); using 30000.',
      'flowgate.timeouts.totalMs must be a whole number of milliseconds, 0 or more (0 turns the limit off); using 600000.',
      'flowgate.retry.maxAttempts must be a whole number from 1 to 10; using 4.',
      'flowgate.batch.concurrency must be a whole number from 1 to 64; using 4.',
      'flowgate.batch.outputFolder must be a non-empty name; using "flowgate-output".',
      'flowgate.redaction.mode must be one of "off", "warn", "redact"; using "warn".',
      'flowgate.redaction.patterns must be a list of strings; using none.',
      'flowgate.metrics.prometheusPort must be a port from 1 to 65535, or 0 for off; using 0.',
      'flowgate.cache.mode must be one of "deterministic", "always", "off"; using "deterministic".',
      'flowgate.budget.monthly must be an amount of 0 or more (0 means no limit); using 0.',
    ]);
    expect(settings.timeouts).toEqual(DEFAULT_TIMEOUTS);
    expect(settings).toMatchObject({
      maxAttempts: 4,
      redaction: { mode: 'warn', patterns: [] },
      batch: { concurrency: 4, outputFolder: 'flowgate-output' },
      cache: { mode: 'deterministic' },
      budget: { monthly: 0 },
    });
  });

  test('a table keeps its good entries and names each one left out', () => {
    const { settings, problems } = read({
      prices: { good: { input: 1, output: 2 }, noOutput: { input: 1 }, negative: { input: -1, output: 2 } },
      'batch.templates': { Fix: 'Fix {{content}}', Blank: ' ', Number: 3 },
    });
    expect(settings.prices).toEqual({ good: { input: 1, output: 2 } });
    expect(settings.batch.templates).toEqual({ Fix: 'Fix {{content}}' });
    expect(problems).toEqual([
      'flowgate.batch.templates["Blank"] must be a prompt text; it is left out.',
      'flowgate.batch.templates["Number"] must be a prompt text; it is left out.',
      'flowgate.prices["noOutput"] must be { "input": …, "output": … } in dollars per million tokens, with "cachedInput" and "cacheWrite" rates if the provider has them and "batch", the share of the price a provider batch costs (0 to 1); it is left out.',
      'flowgate.prices["negative"] must be { "input": …, "output": … } in dollars per million tokens, with "cachedInput" and "cacheWrite" rates if the provider has them and "batch", the share of the price a provider batch costs (0 to 1); it is left out.',
    ]);
  });

  test('a table of the wrong shape falls back to the default', () => {
    const { settings, problems } = read({ prices: [1, 2] });
    expect(settings.prices).toEqual(RULES.prices.default);
    expect(problems).toEqual([
      'flowgate.prices must be an object of model names to { "input": …, "output": …, "cachedInput"?: …, "cacheWrite"?: …, "batch"?: … } prices per million tokens; using the default.',
    ]);
  });

  test("endpoint problems come first, in the endpoint list's own words", () => {
    const { problems } = read({ endpoints: [{ id: 'x' }], 'retry.maxAttempts': 11 });
    expect(problems).toEqual([
      'flowgate.endpoints[0]: "provider" must be openai, openai-responses, anthropic or ollama.',
      'flowgate.retry.maxAttempts must be a whole number from 1 to 10; using 4.',
    ]);
  });
});
