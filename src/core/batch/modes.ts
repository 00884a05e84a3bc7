/**
 * Live or provider batch: what each would cost and how long each would
 * take, and which one `auto` picks. A live run is paced by the endpoint's
 * rate limits; a provider batch costs the batch share of the price and is
 * answered within the provider's completion window (24 hours for OpenAI and
 * Anthropic, most often well under one).
 */
import { DEFAULT_BATCH_SHARE, type ModelPrice } from '../guards/cost';
import type { Endpoint } from '../types';
import type { BatchEstimate } from './estimate';
import { offersProviderBatches } from './provider';

/** The completion window OpenAI's and Anthropic's batch APIs promise. */
export const PROVIDER_WINDOW_MS = 24 * 3_600_000;

export interface AutoRules {
  /** Runs with fewer files to send than this stay live: a provider batch is not worth the wait. @default 100 */
  minFiles: number;
  /** How long the person can wait for the answers, in ms. @default 24 h */
  deadlineMs: number;
}

export const DEFAULT_AUTO_RULES: AutoRules = { minFiles: 100, deadlineMs: PROVIDER_WINDOW_MS };

export interface ModeChoice {
  mode: 'live' | 'provider';
  /** Why, in a sentence a person reads in the notice or on the confirm screen. */
  why: string;
}

/** What one way of running would cost at most (every answer at max tokens) and at least (no output). */
export interface ModeCost {
  /** With every answer as long as max tokens allow. */
  upTo: number;
  /** The prompts alone. */
  prompts: number;
  /** What the prompt cache is expected to save against the same prompts at the input rate (included above). */
  cacheSaving: number;
}

export interface ModeComparison {
  live: { cost?: ModeCost; ms?: number };
  /** Absent when the endpoint's provider has no batch API. */
  provider?: { cost?: ModeCost; windowMs: number };
  /** What `auto` would pick. */
  auto: ModeChoice;
}

/** Which way `auto` runs: as provider batches when the run is large enough and the deadline allows the window. */
export function chooseMode(
  toSend: number,
  endpoint: Pick<Endpoint, 'provider'>,
  rules: AutoRules = DEFAULT_AUTO_RULES,
): ModeChoice {
  if (!offersProviderBatches(endpoint))
    return { mode: 'live', why: `live: ${endpoint.provider} endpoints have no batch API` };
  if (toSend < rules.minFiles)
    return {
      mode: 'live',
      why: `live: ${toSend} file(s) to send, fewer than the ${rules.minFiles} a provider batch is used for`,
    };
  if (rules.deadlineMs < PROVIDER_WINDOW_MS)
    return {
      mode: 'live',
      why: `live: the deadline (${hours(rules.deadlineMs)}) is shorter than the provider's 24-hour window`,
    };
  return {
    mode: 'provider',
    why: `provider batch: ${toSend} files, at the batch price, within the deadline of ${hours(rules.deadlineMs)}`,
  };
}

/** Both ways side by side, for the dry run and the confirm screen. */
export function compareModes(
  estimate: BatchEstimate,
  endpoint: Pick<Endpoint, 'provider'>,
  price: ModelPrice | undefined,
  rules: AutoRules = DEFAULT_AUTO_RULES,
): ModeComparison {
  const cost = (share: number): ModeCost | undefined => price && estimatedCost(estimate, price, share);
  return {
    live: { cost: cost(1), ms: estimate.impliedMs },
    ...(offersProviderBatches(endpoint)
      ? { provider: { cost: cost(price?.batch ?? DEFAULT_BATCH_SHARE), windowMs: PROVIDER_WINDOW_MS } }
      : {}),
    auto: chooseMode(estimate.toSend, endpoint, rules),
  };
}

/**
 * The run's cost at a share of the price: prompt tokens at the input rate,
 * except those the provider's cache is expected to serve (at the cached
 * rate) and write (at the cache-write rate), and output up to max tokens.
 */
function estimatedCost(estimate: BatchEstimate, price: ModelPrice, share: number): ModeCost {
  const { cachedInputTokens: cached, cacheWriteInputTokens: written } = estimate;
  const fresh = Math.max(0, estimate.inputTokens - cached - written);
  const prompts =
    (fresh * price.input + cached * (price.cachedInput ?? price.input) + written * (price.cacheWrite ?? price.input)) *
    share;
  const output = estimate.maxOutputTokens * price.output * share;
  const uncached = (fresh + cached + written) * price.input * share;
  return { prompts: prompts / 1e6, upTo: (prompts + output) / 1e6, cacheSaving: (uncached - prompts) / 1e6 };
}

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
}
