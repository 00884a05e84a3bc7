import { ConfigError } from './errors';
import { isProviderKind } from './providers';
import { SecretScrubber, withoutCredentials } from './guards/secrets';
import type { Endpoint } from './types';

/**
 * Checks an endpoint before anything is sent and returns its origin, the
 * only place its key may go. Credentials in the URL are refused: they would
 * end up in logs and error messages.
 */
export function endpointOrigin(endpoint: Endpoint): string {
  if (!isProviderKind(endpoint.provider)) {
    throw new ConfigError(
      `Unknown provider ${JSON.stringify(endpoint.provider)}: use openai, openai-responses, anthropic or ollama.`,
    );
  }
  let url: URL;
  try {
    url = new URL(endpoint.baseUrl);
  } catch {
    // Quoted without credentials or the key: a URL that fails to parse may still carry them.
    const quoted = SecretScrubber.of(endpoint).scrub(withoutCredentials(endpoint.baseUrl));
    throw new ConfigError(`The base URL ${JSON.stringify(quoted)} is not a URL; write it like http://127.0.0.1:11434.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`The base URL must start with http:// or https://; got ${url.protocol}//.`);
  }
  if (url.username || url.password) {
    throw new ConfigError('The base URL must not contain a user name or password; give the key separately.');
  }
  if (!endpoint.model)
    throw new ConfigError('No model is set for this endpoint; name one, e.g. llama3.2 or gpt-4o-mini.');
  return url.origin;
}
