import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { LlmClient, type ClientOptions, type Endpoint, type ProviderKind } from '../../src/core';
import { TestLlmServer } from '../server/llm-server';

export const FORMATS: ProviderKind[] = ['openai', 'openai-responses', 'anthropic', 'ollama'];

export const ask = (content = 'hi') => ({ messages: [{ role: 'user' as const, content }] });

/** Single attempts and a breaker that never opens: what one exchange does, without flow control on top. */
export const ONE_ATTEMPT: ClientOptions = {
  retry: { maxAttempts: 1 },
  breaker: { failureThreshold: Number.MAX_SAFE_INTEGER },
};

/** One test server and one client for a test file; the script is reset after each test. */
export function useServer(clientOptions: ClientOptions = ONE_ATTEMPT): {
  server: () => TestLlmServer;
  client: () => LlmClient;
  endpoint: (provider: ProviderKind, extra?: Partial<Endpoint>) => Endpoint;
} {
  let server: TestLlmServer;
  let client: LlmClient;
  beforeAll(async () => {
    server = await TestLlmServer.start();
  });
  // A fresh client per test: a 429's pause or an open breaker must not leak into the next test.
  beforeEach(() => {
    client = new LlmClient(clientOptions);
  });
  afterEach(async () => {
    await client.close();
    server.reset();
  });
  afterAll(async () => {
    await server.close();
  });
  return {
    server: () => server,
    client: () => client,
    endpoint: (provider, extra = {}) => ({
      provider,
      baseUrl: server.baseUrl(provider),
      model: 'test-model',
      ...extra,
    }),
  };
}

/** Resolves with what the promise rejected with; fails if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Polls until `condition` holds; fails the test, naming `what`, when it does not within `ms`. */
export async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** vscode.l10n.t without VS Code: fills {n} placeholders. */
export const translate = (message: string, ...args: (string | number)[]): string =>
  args.reduce<string>((text, arg, i) => text.replace(`{${i}}`, String(arg)), message);
