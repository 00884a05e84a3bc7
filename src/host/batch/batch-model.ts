/**
 * The batch UI's logic without VS Code: exclusions, progress text, ETA and
 * the readable report. Tested directly.
 */
import { relative, sep } from 'node:path';
import picomatch from 'picomatch';
import { formatCost, formatDuration, isFlowgateError } from '../../core';
import type {
  BatchEstimate,
  BatchMode,
  BatchProgress,
  BatchReport,
  IgnoreCheck,
  ModeComparison,
  PromptCacheSetting,
} from '../../core/batch';
import type { ModeCost } from '../../core/batch/modes';
import { errorText } from '../error-text';
import type { Translate } from '../monitor/status-format';

export type OutputMode = 'beside' | 'mirror' | 'inPlace';

/** A `files.exclude` object ({ "**\/.git": true, ... }) as an ignore check for paths under `root`. */
export function excludeCheck(patterns: Record<string, unknown>, root: string): IgnoreCheck {
  const enabled = Object.entries(patterns)
    .filter(([, on]) => on === true)
    .map(([glob]) => glob);
  if (enabled.length === 0) return () => false;
  const matches = picomatch(enabled, { dot: true });
  return (path) => {
    const rel = relative(root, path).split(sep).join('/');
    return !rel.startsWith('..') && matches(rel);
  };
}

/** Time left, from the pace so far; undefined until there is a pace. */
export function etaMs(progress: BatchProgress, total: number): number | undefined {
  // A shared job goes at the pace of every process, which this one does not know.
  if (progress.shared) return undefined;
  const finished = progress.done - progress.resumed + progress.failed;
  const remaining = total - progress.done - progress.failed - progress.skipped;
  if (finished === 0 || remaining <= 0) return undefined;
  return (progress.elapsedMs / finished) * remaining;
}

export function progressMessage(progress: BatchProgress, total: number, t: Translate): string {
  const { shared } = progress;
  const parts = [
    shared
      ? t('{0} of {1} done by every process, {2} here', shared.recorded, shared.total, progress.done)
      : t('{0} of {1} done', progress.done, total),
  ];
  // Provider mode: the provider's own word on where its batches are.
  for (const batch of progress.providerBatches ?? [])
    parts.push(
      t(
        'provider batch {0}: {1}, {2} of {3}',
        batch.id,
        batch.state.replace('_', ' '),
        batch.completed + batch.failed,
        batch.total,
      ),
    );
  if (progress.failed) parts.push(t('{0} failed', progress.failed));
  if (progress.skipped) parts.push(t('{0} skipped', progress.skipped));
  if (progress.running) parts.push(t('{0} running', progress.running));
  const eta = etaMs(progress, total);
  if (eta !== undefined) parts.push(t('about {0} left', formatDuration(eta)));
  const tokens = progress.inputTokens + progress.outputTokens;
  if (tokens) parts.push(t('{0} tokens', tokens));
  return parts.join(' · ');
}

export function summaryMessage(report: BatchReport, t: Translate): string {
  const s = report.summary;
  return t(
    'Batch finished: {0} ok, {1} failed, {2} skipped in {3}.',
    s.ok,
    s.failed,
    s.skipped,
    formatDuration(s.wallMs),
  );
}

/** report.json, for people: a summary table, then failures and skips with their reasons. */
export function reportMarkdown(report: BatchReport, t: Translate): string {
  const s = report.summary;
  const lat = (v?: number): string => (v === undefined ? '–' : formatDuration(v));
  const lines = [
    `# ${t('Flowgate Batch Report')}`,
    '',
    '| | |',
    '|---|---|',
    `| ${t('Files')} | ${s.total} |`,
    `| ${t('OK')} | ${s.ok} (${t('{0} from an earlier run', s.resumed)}) |`,
    ...(s.rerun ? [`| ${t('Asked again (input changed or answer missing)')} | ${s.rerun} |`] : []),
    `| ${t('Failed')} | ${s.failed - s.incomplete} |`,
    ...(s.incomplete
      ? [`| ${t('Incomplete (cut off, refused, filtered or tool calls only)')} | ${s.incomplete} |`]
      : []),
    `| ${t('Skipped')} | ${s.skipped} |`,
    `| ${t('Wall time')} | ${formatDuration(s.wallMs)} |`,
    `| ${t('Tokens in / out')} | ${s.inputTokens} / ${s.outputTokens} |`,
    `| ${t('Files with values redacted')} | ${s.redacted} |`,
    ...(s.cost === undefined ? [] : [`| ${t('Cost')} | ${formatCost(s.cost)} |`]),
    ...(s.cachedInputTokens ? [`| ${t("Prompt tokens from the provider's cache")} | ${cacheCell(s, t)} |`] : []),
    `| ${t('Latency p50 / p95')} | ${lat(s.latencyMs.p50)} / ${lat(s.latencyMs.p95)} |`,
  ];
  const table = (title: string, status: string): string[] => {
    const items = report.items.filter((i) => i.status === status);
    if (!items.length) return [];
    return [
      '',
      `## ${title}`,
      '',
      `| ${t('File')} | ${t('Reason')} |`,
      '|---|---|',
      ...items.map((i) => `| ${escapeCell(i.input)} | ${escapeCell(i.error ?? '')} |`),
    ];
  };
  return (
    [
      ...lines,
      ...table(t('Failed'), 'failed'),
      ...table(t('Incomplete'), 'incomplete'),
      ...table(t('Skipped'), 'skipped'),
    ].join('\n') + '\n'
  );
}

function cacheCell(s: BatchReport['summary'], t: Translate): string {
  return s.cacheSaving
    ? t('{0} (saved {1})', s.cachedInputTokens, formatCost(s.cacheSaving))
    : String(s.cachedInputTokens);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** An answer that is one fenced code block becomes just the code, for writing a file in place. */
export function unfence(answer: string): string {
  const match = /^\s*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)\n\1\s*$/.exec(answer);
  return match && !match[2]!.includes(match[1]!) ? `${match[2]}\n` : answer;
}

/** Output names beside each input: a.ts -> a.ts.flowgate.md. */
export function besideName(fileName: string, suffix: string): string {
  return `${fileName}.${suffix}.md`;
}

/** Why a batch could not run or finish, in the engine's words (the same the CLI prints), or the unexpected error's. */
export function batchFailureText(error: unknown, t: Translate): string {
  if (isFlowgateError(error)) return errorText(error, t);
  return t('The batch stopped: {0}', error instanceof Error ? error.message : String(error));
}

/**
 * The confirm screen's run-mode row: the chosen mode, the provider's batch
 * API, and on its own line (a quick pick's detail, never cut short) both
 * modes' cost and time side by side.
 */
export function modeRow(
  run: BatchMode,
  compared: ModeComparison,
  endpoint: { provider: string; model: string },
  t: Translate,
): { label: string; description: string; detail: string } {
  const model = endpoint.model;
  const label =
    run === 'provider'
      ? `$(cloud-upload) ${t('As a provider batch: half price, answered within 24 hours')}`
      : run === 'auto'
        ? `$(sparkle) ${t('Auto: {0}', compared.auto.why)}`
        : `$(zap) ${t('Live: one request per file, now')}`;
  const cost = (c: ModeCost | undefined): string =>
    c ? t('{0}–{1}', formatCost(c.prompts), formatCost(c.upTo)) : t('no price for {0}', model);
  const live = t(
    'live {0}, {1}',
    cost(compared.live.cost),
    compared.live.ms === undefined ? t('no RPM/TPM set') : t('at least {0}', formatDuration(compared.live.ms)),
  );
  const provider = compared.provider
    ? t('batch {0}, within {1}', cost(compared.provider.cost), formatDuration(compared.provider.windowMs))
    : t('no batch API for this endpoint');
  const api =
    endpoint.provider === 'openai'
      ? t("OpenAI's Batch API")
      : endpoint.provider === 'anthropic'
        ? t("Anthropic's Message Batches")
        : t('Ollama has no batch API: runs live');
  return { label, description: api, detail: `${live} · ${provider}` };
}

/** The confirm screen's prompt-cache row: the setting, and what the shared beginning would earn. */
export function promptCacheRow(
  setting: PromptCacheSetting,
  estimate: Pick<BatchEstimate, 'sharedPrefixTokens' | 'cachedInputTokens'>,
  /** What the cache is expected to save in the mode that will run, when the model has a price. */
  saving: number | undefined,
  t: Translate,
): { label: string; description: string } {
  const label = {
    off: t('Prompt cache off'),
    '5m': t('Prompt cache: the shared beginning, for 5 minutes'),
    '1h': t('Prompt cache: the shared beginning, for an hour'),
  }[setting];
  const description =
    setting === 'off'
      ? t('{0} tokens shared by every request', estimate.sharedPrefixTokens)
      : estimate.cachedInputTokens
        ? saving
          ? t(
              'about {0} prompt tokens from the cache, saving about {1}',
              estimate.cachedInputTokens,
              formatCost(saving),
            )
          : t('about {0} prompt tokens from the cache', estimate.cachedInputTokens)
        : t('{0} shared tokens: too few to cache (1,024 at least)', estimate.sharedPrefixTokens);
  return { label: `$(database) ${label}`, description };
}

/** A name other processes join a shared batch by, as `flowgate batch --join` takes it. */
export const JOIN_NAME = /^[\w.-]{1,100}$/;

/** The confirm screen's row for sharing the run's work with other processes through Redis. */
export function joinRow(join: string, where: string, t: Translate): { label: string; description: string } {
  return join
    ? {
        label: `$(organization) ${t('Shared: every process that joins "{0}" takes files from one queue', join)}`,
        description: t('on {0}', where),
      }
    : {
        label: `$(person) ${t('This window alone')}`,
        description: t('share the work with other machines through {0}', where),
      };
}

/**
 * The command another machine runs, from the same folder in a POSIX shell
 * (bash, zsh; Git Bash or WSL on Windows), to work on the same shared
 * batch: the same prompt, endpoint and limits, the same choices of what is
 * sent, the same results folder, and the Redis URL as configured (it holds
 * no password: that comes from FLOWGATE_REDIS_PASSWORD), never an API key.
 */
export function joinCommand(job: {
  join: string;
  redisUrl: string;
  endpoint: { provider: string; baseUrl: string; model: string; rpm?: number; tpm?: number };
  template: string;
  outputFolder: string;
  writeReasoning: boolean;
  redact: boolean;
  /** Also send files that look like secrets or binary. */
  allowSkipped: boolean;
  /** Relative to the folder, with / between names. */
  inputs: string[];
}): string {
  const { provider, baseUrl, model, rpm, tpm } = job.endpoint;
  const words = ['flowgate', 'batch', '--provider', provider, '--base-url', baseUrl, '--model', model];
  if (rpm) words.push('--rpm', String(rpm));
  if (tpm) words.push('--tpm', String(tpm));
  words.push('--redis', job.redisUrl, '--join', job.join, '--prompt', job.template, '--out', job.outputFolder);
  if (job.writeReasoning) words.push('--reasoning', 'show');
  if (job.redact) words.push('--redact');
  if (job.allowSkipped) words.push('--allow-secrets', '--allow-binary');
  return [...words, ...job.inputs].map(shellWord).join(' ');
}

/** A word as a POSIX shell reads it back unchanged. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
