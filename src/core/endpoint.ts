import { ConfigError } from './errors';
import { isProviderKind } from './providers';
import type { Endpoint } from './types';

/**
 * Checks an endpoint before anything is sent and returns its origin, the
 * only place its key may go. Credentials in the URL are refused: they would
 * end up in logs and error messages.
 */
export function endpointOrigin(endpoint: Endpoint): string {
  if (!isProviderKind(endpoint.provider)) {
    throw new ConfigError(`Unknown provider ${JSON.stringify(endpoint.provider)}: use openai, anthropic or ollama.`);
  }
  let url: URL;
  try {
    url = new URL(endpoint.baseUrl);
  } catch {
    throw new ConfigError(`The base URL ${JSON.stringify(endpoint.baseUrl)} is not a URL; write it like http://127.0.0.1:11434.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`The base URL must start with http:// or https://; got ${url.protocol}//.`);
  }
  if (url.username || url.password) {
    throw new ConfigError('The base URL must not contain a user name or password; give the key separately.');
  }
  if (!endpoint.model) throw new ConfigError('No model is set for this endpoint; name one, e.g. llama3.2 or gpt-4o-mini.');
  return url.origin;
}

/**
 * The values of an endpoint that must never appear in a message or a log:
 * its API key and every extra header value (a gateway's key, an Azure
 * `api-key`). For scrubbing error text; empty and repeated values are left out.
 */
export function endpointSecrets(endpoint: Pick<Endpoint, 'apiKey' | 'headers'>): string[] {
  const values = [endpoint.apiKey, ...Object.values(endpoint.headers ?? {})];
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value.length > 0))];
}
