import { describe, expect, test } from 'vitest';
import { Budget, BudgetExceededError, cacheSavingOf, costOf, formatCost } from '../../src/core';

const prices = { 'gpt-4o-mini': { input: 0.15, output: 0.6 } };

describe('cost', () => {
  test('per million tokens, input and output priced apart; unknown models and usage cost nothing known', () => {
    expect(costOf('gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 500_000 }, prices)).toBeCloseTo(0.45, 10);
    expect(costOf('llama3.2', { inputTokens: 10, outputTokens: 10 }, prices)).toBeUndefined();
    expect(costOf('gpt-4o-mini', {}, prices)).toBeUndefined();
    expect(formatCost(0.0012)).toBe('$0.0012');
    expect(formatCost(12.5)).toBe('$12.50');
  });

  test('a request run in a provider batch costs the batch share: half by default, or the price says', () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 500_000, providerBatch: 'batch_1' };
    expect(costOf('gpt-4o-mini', usage, prices)).toBeCloseTo(0.225, 10);
    const own = { 'gpt-4o-mini': { ...prices['gpt-4o-mini'], batch: 0.8 } };
    expect(costOf('gpt-4o-mini', usage, own)).toBeCloseTo(0.36, 10);
  });
});

describe('Budget', () => {
  function budget(limits: { daily?: number; monthly?: number }) {
    const store = new Map<string, number>();
    return { store, budget: new Budget({ get: (k) => store.get(k), set: (k, v) => void store.set(k, v) }, limits) };
  }
  const day = new Date(2026, 10, 22, 12);

  test('ok below 80%, warn from 80%, blocked at 100%', async () => {
    const { budget: b } = budget({ daily: 1 });
    await b.record(0.5, day);
    expect(b.state(day).state).toBe('ok');
    await b.record(0.3, day);
    expect(b.state(day)).toMatchObject({ state: 'warn', spentToday: 0.8 });
    await b.record(0.2, day);
    expect(b.state(day).state).toBe('blocked');
    expect(() => b.check(day)).toThrow(BudgetExceededError);
    expect(() => b.check(day)).toThrow(
      'The daily budget of $1.00 is spent ($1.00). Lift it for today, or raise flowgate.budget.daily.',
    );
  });

  test('lifting lasts for the rest of the day only; a new day starts from zero', async () => {
    const { budget: b } = budget({ daily: 1 });
    await b.record(1.5, day);
    await b.liftForToday(day);
    expect(() => b.check(day)).not.toThrow();
    const tomorrow = new Date(2026, 10, 23, 9);
    expect(b.state(tomorrow)).toMatchObject({ spentToday: 0, state: 'ok', liftedToday: false });
  });

  test('the monthly limit counts every day of the month', async () => {
    const { budget: b } = budget({ monthly: 2 });
    await b.record(1.2, new Date(2026, 10, 1));
    await b.record(0.9, new Date(2026, 10, 20));
    expect(b.state(new Date(2026, 10, 21))).toMatchObject({ spentThisMonth: 2.1, state: 'blocked' });
    expect(b.state(new Date(2026, 11, 1))).toMatchObject({ spentThisMonth: 0, state: 'ok' });
  });

  test('no limits: never blocked', async () => {
    const { budget: b } = budget({});
    await b.record(1000, day);
    expect(b.state(day).state).toBe('ok');
  });
});

describe('prompt-cache rates', () => {
  const prices = {
    claude: { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
    plain: { input: 2, output: 8 },
  };

  test('cached and cache-written prompt tokens are billed at their own rates; the rest at the input rate', () => {
    // 1,000,000 prompt tokens: 600k read from the cache, 100k written to it, 300k fresh; 10k output.
    const usage = {
      inputTokens: 1_000_000,
      cachedInputTokens: 600_000,
      cacheWriteInputTokens: 100_000,
      outputTokens: 10_000,
    };
    expect(costOf('claude', usage, prices)).toBeCloseTo(0.9 + 0.18 + 0.375 + 0.15, 10);
    expect(cacheSavingOf('claude', usage, prices)).toBeCloseTo((600_000 * (3 - 0.3)) / 1e6, 10);
  });

  test('without cache rates, cached tokens cost the input rate and nothing is called saved', () => {
    const usage = { inputTokens: 1000, cachedInputTokens: 800, outputTokens: 100 };
    expect(costOf('plain', usage, prices)).toBeCloseTo((1000 * 2 + 100 * 8) / 1e6, 12);
    expect(cacheSavingOf('plain', usage, prices)).toBeUndefined();
    expect(cacheSavingOf('claude', { inputTokens: 10, outputTokens: 1 }, prices)).toBeUndefined();
  });
});
