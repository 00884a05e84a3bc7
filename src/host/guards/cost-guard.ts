import * as vscode from 'vscode';
import {
  Budget,
  BudgetExceededError,
  cacheSavingOf,
  costOf,
  formatCost,
  type PriceTable,
  type Usage,
} from '../../core';
import type { Settings } from '../settings/settings';

/**
 * Prices, spend and the budget in VS Code: spend kept in globalState per
 * local day and month, a warning once a limit is 80% spent, and a hard stop
 * at 100% that the user can lift for the rest of the day.
 */
export class CostGuard {
  private readonly budget: Budget;
  private warned = '';

  constructor(
    state: vscode.Memento,
    private readonly settings: Settings,
  ) {
    this.budget = new Budget(
      { get: (key) => state.get<number>(key), set: (key, value) => state.update(key, value) },
      this.limits(),
    );
  }

  prices(): PriceTable {
    return this.settings.current.prices;
  }

  costOf(model: string, usage: Usage): number | undefined {
    return costOf(model, usage, this.prices());
  }

  /** What the provider's prompt cache saved, when the model's price has a cached rate. */
  savingOf(model: string, usage: Usage): number | undefined {
    return cacheSavingOf(model, usage, this.prices());
  }

  /** Whether a request may go now; when the budget is spent, offers to lift it for today. */
  async allow(): Promise<boolean> {
    this.budget.setLimits(this.limits());
    try {
      this.budget.check();
      return true;
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
      const lift = vscode.l10n.t('Allow for Today');
      const choice = await vscode.window.showErrorMessage(
        vscode.l10n.t(
          'The {0} budget of {1} is spent ({2}).',
          error.period === 'daily' ? vscode.l10n.t('daily') : vscode.l10n.t('monthly'),
          formatCost(error.limit),
          formatCost(error.spent),
        ),
        lift,
      );
      if (choice !== lift) return false;
      await this.budget.liftForToday();
      return true;
    }
  }

  /**
   * For callers that cannot wait on the user (VS Code's chat): undefined when
   * a request may go, else why not. The same offer to lift the limit for today
   * is shown beside it, without waiting for an answer.
   */
  refusal(): string | undefined {
    this.budget.setLimits(this.limits());
    try {
      this.budget.check();
      return undefined;
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
      void this.allow();
      return vscode.l10n.t(
        'Not sent: the {0} budget of {1} is spent ({2}). Raise flowgate.budget.daily or flowgate.budget.monthly, or choose "Allow for Today" in Flowgate\'s notification.',
        error.period === 'daily' ? vscode.l10n.t('daily') : vscode.l10n.t('monthly'),
        formatCost(error.limit),
        formatCost(error.spent),
      );
    }
  }

  /** Adds a request's cost to today's and this month's spend; warns once when 80% is reached. */
  async record(model: string, usage: Usage): Promise<number | undefined> {
    const cost = this.costOf(model, usage);
    if (cost === undefined) return undefined;
    this.budget.setLimits(this.limits());
    await this.budget.record(cost);
    const state = this.budget.state();
    const key = `${state.state}:${new Date().toDateString()}`;
    if (state.state !== 'ok' && this.warned !== key) {
      this.warned = key;
      void vscode.window.showWarningMessage(
        vscode.l10n.t(
          'Flowgate has spent {0} today and {1} this month, over 80% of a budget.',
          formatCost(state.spentToday),
          formatCost(state.spentThisMonth),
        ),
      );
    }
    return cost;
  }

  /** Whether a limit is spent (and not lifted): a batch stops starting new items. */
  blocked(): boolean {
    this.budget.setLimits(this.limits());
    return this.budget.state().state === 'blocked';
  }

  /** "Spend: $1.20 today (of $5.00), $10.00 this month": for the status-bar tooltip. */
  summary(): string {
    const s = this.budget.state();
    const of = (limit?: number): string => (limit ? ` / ${formatCost(limit)}` : '');
    return vscode.l10n.t(
      'Spend: {0} today, {1} this month',
      `${formatCost(s.spentToday)}${of(s.limits.daily)}`,
      `${formatCost(s.spentThisMonth)}${of(s.limits.monthly)}`,
    );
  }

  private limits(): { daily?: number; monthly?: number } {
    const { daily, monthly } = this.settings.current.budget;
    return { daily: daily || undefined, monthly: monthly || undefined };
  }
}
