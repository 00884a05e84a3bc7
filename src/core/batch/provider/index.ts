import { ConfigError } from '../../errors';
import type { SecretScrubber } from '../../guards/secrets';
import type { PoolRegistry } from '../../http/pools';
import type { Endpoint } from '../../types';
import { AnthropicBatches } from './anthropic-batches';
import { OpenAiBatches } from './openai-batches';
import type { ProviderBatchApi } from './provider-batch';

export type { ProviderBatchApi } from './provider-batch';

/** Whether the endpoint's provider has a batch API Flowgate can use. */
export function offersProviderBatches(endpoint: Pick<Endpoint, 'provider'>): boolean {
  return endpoint.provider !== 'ollama';
}

/** The endpoint's batch API: OpenAI's Files and Batches (Chat Completions or Responses), or Anthropic's Message Batches. */
export function batchApiFor(endpoint: Endpoint, pools: PoolRegistry, scrubber: SecretScrubber): ProviderBatchApi {
  if (endpoint.provider === 'openai' || endpoint.provider === 'openai-responses')
    return new OpenAiBatches(endpoint, pools, scrubber);
  if (endpoint.provider === 'anthropic') return new AnthropicBatches(endpoint, pools, scrubber);
  throw new ConfigError(
    `${endpoint.id ? `The endpoint "${endpoint.id}"` : `The ${endpoint.model} endpoint`} is an ${endpoint.provider} endpoint, which has no batch API; run it live (batch mode "live").`,
  );
}
