/**
 * What requests cost, and a daily and monthly budget with a warning at 80%
 * and a hard stop at 100% that can be lifted for the rest of the day.
 * Prices are per million tokens, in the user's currency (USD by default).
 */
import { FlowgateError } from '../errors';

export interface ModelPrice {
  /** Per million prompt tokens. */
  input: number;
  /** Per million output tokens, reasoning tokens included. */
  output: number;
  /** Per million prompt tokens read from the provider's cache. @default input */
  cachedInput?: number;
  /** Per million prompt tokens written to the provider's cache (Anthropic). @default input */
  cacheWrite?: number;
  /** What a request run in a provider batch costs, as a share of the price (OpenAI and Anthropic: half). @default 0.5 */
  batch?: number;
}

/** OpenAI's and Anthropic's batch APIs bill half the price. */
export const DEFAULT_BATCH_SHARE = 0.5;

export type PriceTable = Record<string, ModelPrice>;

interface CostUsage {
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
  /** Set when the request ran in a provider batch: billed at the batch share of the price. */
  providerBatch?: string;
}

/**
 * The cost of one request, or undefined when the model has no price or the
 * usage is unknown. Prompt tokens read from or written to the provider's
 * cache are billed at their own rates when the price gives them.
 */
export function costOf(model: string, usage: CostUsage, prices: PriceTable): number | undefined {
  const price = prices[model];
  if (!price || (usage.inputTokens === undefined && usage.outputTokens === undefined)) return undefined;
  const cached = usage.cachedInputTokens ?? 0;
  const written = usage.cacheWriteInputTokens ?? 0;
  const fresh = Math.max(0, (usage.inputTokens ?? 0) - cached - written);
  const prompt =
    fresh * price.input + cached * (price.cachedInput ?? price.input) + written * (price.cacheWrite ?? price.input);
  const share = usage.providerBatch ? (price.batch ?? DEFAULT_BATCH_SHARE) : 1;
  return ((prompt + (usage.outputTokens ?? 0) * price.output) * share) / 1_000_000;
}

/** What reading from the provider's cache saved on one request, when the price has a cached rate. */
export function cacheSavingOf(model: string, usage: CostUsage, prices: PriceTable): number | undefined {
  const price = prices[model];
  if (!price || price.cachedInput === undefined || !usage.cachedInputTokens) return undefined;
  const share = usage.providerBatch ? (price.batch ?? DEFAULT_BATCH_SHARE) : 1;
  return (usage.cachedInputTokens * (price.input - price.cachedInput) * share) / 1_000_000;
}

export function formatCost(amount: number): string {
  return amount < 0.01 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`;
}

export class BudgetExceededError extends FlowgateError {
  override readonly name = 'BudgetExceededError';
  readonly code = 'FLOWGATE_BUDGET';
  constructor(
    readonly period: 'daily' | 'monthly',
    readonly limit: number,
    readonly spent: number,
  ) {
    super(
      `The ${period} budget of ${formatCost(limit)} is spent (${formatCost(spent)}). Lift it for today, or raise flowgate.budget.${period}.`,
      { retryable: false },
    );
  }
}

/** Where spend is kept between sessions (VS Code's globalState, or a map in tests). */
export interface SpendStore {
  get(key: string): number | undefined;
  set(key: string, value: number): void | Thenable<void>;
}

type Thenable<T> = PromiseLike<T>;

export interface BudgetLimits {
  /** 0 or absent: no daily limit. */
  daily?: number;
  monthly?: number;
}

export interface BudgetState {
  spentToday: number;
  spentThisMonth: number;
  limits: BudgetLimits;
  /** 'warn' from 80% of a limit, 'blocked' at 100% unless lifted for today. */
  state: 'ok' | 'warn' | 'blocked';
  liftedToday: boolean;
}

export const WARN_AT = 0.8;

export class Budget {
  constructor(
    private readonly store: SpendStore,
    private limits: BudgetLimits,
  ) {}

  setLimits(limits: BudgetLimits): void {
    this.limits = limits;
  }

  async record(cost: number, now = new Date()): Promise<void> {
    if (!(cost > 0)) return;
    const { day, month } = keys(now);
    await this.store.set(day, (this.store.get(day) ?? 0) + cost);
    await this.store.set(month, (this.store.get(month) ?? 0) + cost);
  }

  state(now = new Date()): BudgetState {
    const { day, month, lift } = keys(now);
    const spentToday = this.store.get(day) ?? 0;
    const spentThisMonth = this.store.get(month) ?? 0;
    const liftedToday = (this.store.get(lift) ?? 0) > 0;
    const shares = [share(spentToday, this.limits.daily), share(spentThisMonth, this.limits.monthly)];
    const worst = Math.max(...shares);
    const state = worst >= 1 && !liftedToday ? 'blocked' : worst >= WARN_AT ? 'warn' : 'ok';
    return { spentToday, spentThisMonth, limits: this.limits, state, liftedToday };
  }

  /** Throws BudgetExceededError when a limit is spent and not lifted for today. */
  check(now = new Date()): void {
    const s = this.state(now);
    if (s.state !== 'blocked') return;
    const daily = share(s.spentToday, this.limits.daily) >= 1;
    throw new BudgetExceededError(
      daily ? 'daily' : 'monthly',
      (daily ? this.limits.daily : this.limits.monthly) ?? 0,
      daily ? s.spentToday : s.spentThisMonth,
    );
  }

  async liftForToday(now = new Date()): Promise<void> {
    await this.store.set(keys(now).lift, 1);
  }
}

function share(spent: number, limit: number | undefined): number {
  return limit && limit > 0 ? spent / limit : 0;
}

/** Local calendar days and months: a budget resets at the user's midnight. */
function keys(now: Date): { day: string; month: string; lift: string } {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return {
    day: `flowgate.spend.${day}`,
    month: `flowgate.spend.${day.slice(0, 7)}`,
    lift: `flowgate.budgetLifted.${day}`,
  };
}
