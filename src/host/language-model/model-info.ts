/**
 * How one Flowgate endpoint appears as a model in VS Code's chat. No vscode
 * import: the provider passes its l10n function in, so this is tested directly.
 */
import { endpointOrigin } from '../../core';
import type { Translate } from '../monitor/status-format';
import type { EndpointSetting } from '../settings/settings-model';
import { knownModel, type ModelLimits } from './known-models';

/** The fields of vscode.LanguageModelChatInformation. */
export interface ModelInfo {
  id: string;
  name: string;
  family: string;
  version: string;
  detail: string;
  tooltip: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  capabilities: { toolCalling: boolean; imageInput: boolean };
}

/**
 * For a model Flowgate does not know, per provider. Ollama's context is what
 * it loads the model with: `params.options.num_ctx` when the endpoint sets it,
 * else 32,768 (Ollama's default on a machine with a mid-size GPU; smaller ones
 * get 4,096, so set num_ctx or maxInputTokens there). Tools are off for an
 * unknown Ollama model, because Ollama refuses a request with tools for a
 * model that has none; `toolCalling: true` turns them on.
 */
const PROVIDER_DEFAULTS: Record<EndpointSetting['provider'], ModelLimits> = {
  openai: { maxInputTokens: 111_616, maxOutputTokens: 16_384, toolCalling: true, imageInput: false },
  'openai-responses': { maxInputTokens: 111_616, maxOutputTokens: 16_384, toolCalling: true, imageInput: true },
  anthropic: { maxInputTokens: 191_808, maxOutputTokens: 8_192, toolCalling: true, imageInput: true },
  ollama: { maxInputTokens: 28_672, maxOutputTokens: 4_096, toolCalling: false, imageInput: false },
};

const PROVIDER_NAMES: Record<EndpointSetting['provider'], string> = {
  openai: 'OpenAI-compatible',
  'openai-responses': 'OpenAI Responses',
  anthropic: 'Anthropic',
  ollama: 'Ollama',
};

export function modelInfoFor(setting: EndpointSetting, t: Translate): ModelInfo {
  const limits = limitsFor(setting);
  const host = new URL(endpointOrigin(setting)).host;
  return {
    id: setting.id,
    name: displayName(setting),
    family: familyOf(setting.model),
    version: setting.model,
    detail: `${PROVIDER_NAMES[setting.provider]} · ${host}`,
    tooltip: t(
      '{0} at {1}, through Flowgate: paced to the rate limits, 429s retried when the server allows, stalls stopped by timeouts, and shown in the status bar.',
      setting.model,
      setting.baseUrl,
    ),
    maxInputTokens: limits.maxInputTokens,
    maxOutputTokens: limits.maxOutputTokens,
    capabilities: { toolCalling: limits.toolCalling, imageInput: limits.imageInput },
  };
}

/** The endpoint's own settings, else the known model's, else the provider's defaults. */
export function limitsFor(setting: EndpointSetting): ModelLimits {
  const base = knownModel(setting.model) ?? PROVIDER_DEFAULTS[setting.provider];
  const numCtx = setting.provider === 'ollama' ? ollamaContext(setting.params) : undefined;
  const maxOutputTokens = setting.maxOutputTokens ?? base.maxOutputTokens;
  const fromContext = numCtx === undefined ? undefined : Math.max(1, numCtx - Math.min(maxOutputTokens, numCtx / 2));
  return {
    maxInputTokens: setting.maxInputTokens ?? fromContext ?? base.maxInputTokens,
    maxOutputTokens,
    toolCalling: setting.toolCalling ?? base.toolCalling,
    imageInput: setting.imageInput ?? base.imageInput,
  };
}

/** "Flowgate · local llama3.2": the endpoint's id, and the model when the id does not already say it. */
export function displayName(setting: EndpointSetting): string {
  const saysModel = setting.id.toLowerCase().includes(setting.model.toLowerCase());
  return `Flowgate · ${saysModel ? setting.id : `${setting.id} ${setting.model}`}`;
}

/** "gpt-4o-2024-08-06" → "gpt-4o", "meta/llama3.2:3b" → "llama3.2": the name without vendor, tag or date. */
export function familyOf(model: string): string {
  const name = (model.split('/').pop() ?? model).split(':')[0]!.toLowerCase();
  return name.replace(/-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$/, '') || model;
}

function ollamaContext(params: Record<string, unknown> | undefined): number | undefined {
  const options = params?.options as { num_ctx?: unknown } | undefined;
  const numCtx = options?.num_ctx;
  return typeof numCtx === 'number' && Number.isInteger(numCtx) && numCtx > 0 ? numCtx : undefined;
}
