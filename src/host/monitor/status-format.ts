/**
 * What the status-bar item says about the active endpoint. No vscode import:
 * the host passes its l10n function in, so this is tested directly.
 */
import { formatDuration, type Allowance, type EndpointSnapshot, type Percentiles } from '../../core';

export type Translate = (message: string, ...args: (string | number)[]) => string;

export interface StatusView {
  text: string;
  /** Markdown. */
  tooltip: string;
  warning: boolean;
}

/** Below this share of quota left, the item turns to the warning colour. */
export const LOW_QUOTA = 0.1;

export function quotaHeadroom(snapshot: EndpointSnapshot): number | undefined {
  const shares = [snapshot.quota.requests, snapshot.quota.tokens]
    .filter((a) => a.limit !== undefined && a.limit > 0 && a.remaining !== undefined)
    .map((a) => (a.remaining as number) / (a.limit as number));
  return shares.length ? Math.min(...shares) : undefined;
}

/** Requests on the wire and waiting. */
export interface Busy {
  inFlight: number;
  queued: number;
}

/**
 * The active endpoint's model, quota and latency. Running and queued count
 * every endpoint (`busy`, when given): a request from VS Code's chat or a
 * batch on another endpoint still shows.
 */
export function statusView(
  model: string,
  snapshot: EndpointSnapshot | undefined,
  t: Translate,
  now = Date.now(),
  busy: Busy | undefined = snapshot,
): StatusView {
  const running = busy && (busy.inFlight || busy.queued) ? busy : undefined;
  if (!snapshot) {
    const text = running
      ? `$(sync~spin) ${t('{0} running', running.inFlight)} · ${t('{0} queued', running.queued)}`
      : `$(pulse) ${model}`;
    return { text, tooltip: t('Flowgate: no requests yet to {0}.', model), warning: false };
  }
  const headroom = quotaHeadroom(snapshot);
  // Redis out of reach: the window keeps to its share of the limits, and says so until it is back.
  const unshared = snapshot.shared !== undefined && !snapshot.shared.connected;
  const warning = snapshot.breaker === 'open' || (headroom !== undefined && headroom < LOW_QUOTA) || unshared;
  const parts: string[] = [];
  if (running) parts.push(t('{0} running', running.inFlight), t('{0} queued', running.queued));
  else parts.push(model);
  if (unshared) parts.push(t('Redis unavailable'));
  if (headroom !== undefined) parts.push(t('{0}% quota', Math.round(headroom * 100)));
  const latency = snapshot.latencyMs.recent.p50;
  if (latency !== undefined) parts.push(formatDuration(latency));
  const icon = warning ? '$(warning)' : running?.inFlight ? '$(sync~spin)' : '$(pulse)';
  return { text: `${icon} ${parts.join(' · ')}`, tooltip: statusTooltip(snapshot, t, now), warning };
}

export function statusTooltip(s: EndpointSnapshot, t: Translate, now = Date.now()): string {
  const failed =
    Object.entries(s.failed)
      .map(([code, n]) => `${n} ${code.replace('FLOWGATE_', '').toLowerCase()}`)
      .join(', ') || '0';
  const rows: [string, string][] = [
    [t('Requests'), t('{0} ({1} ok, {2} running, {3} queued)', s.requests, s.succeeded, s.inFlight, s.queued)],
    [t('Errors'), failed],
    [t('Retries / 429s'), `${s.retries} / ${s.rateLimited}`],
    [t('Latency p50 / p95 / p99'), percentiles(s.latencyMs.recent)],
    [t('First token p50 / p95 / p99'), percentiles(s.ttftMs.recent)],
    [t('Output tokens/s'), s.outputTokensPerSecond === undefined ? '–' : String(s.outputTokensPerSecond)],
    [t('Requests quota'), allowance(s.quota.requests, t, now)],
    [t('Tokens quota'), allowance(s.quota.tokens, t, now)],
    [t('Circuit breaker'), t(s.breaker)],
    [t('Limits'), sharing(s, t)],
  ];
  const table = rows.map(([name, value]) => `| ${name} | ${value} |`).join('\n');
  return `**${s.id}** · ${s.model} · ${s.origin}\n\n| | |\n|---|---|\n${table}\n\n${t('Last minute. Click for details.')}`;
}

function percentiles(p: Percentiles): string {
  if (!p.count) return '–';
  return [p.p50, p.p95, p.p99].map((v) => (v === undefined ? '–' : formatDuration(v))).join(' / ');
}

function allowance(a: Allowance, t: Translate, now: number): string {
  if (a.limit === undefined && a.remaining === undefined) return t('not reported');
  const left = `${a.remaining ?? '?'} / ${a.limit ?? '?'}`;
  return a.resetAt === undefined ? left : t('{0}, resets in {1}', left, formatDuration(Math.max(0, a.resetAt - now)));
}

/** Whether this endpoint's budgets are shared with other windows and machines, and with how many. */
function sharing(s: EndpointSnapshot, t: Translate): string {
  if (!s.shared) return t('this window only');
  const { where, connected, participants, problem } = s.shared;
  if (connected) return t('shared through {0} by {1} Flowgate process(es)', where, participants);
  return t('Redis unavailable ({0}): this window keeps to 1/{1} of the limits', problem ?? where, participants);
}
