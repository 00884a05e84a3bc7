import { afterAll, afterEach, beforeAll } from 'vitest';
import { LlmClient, type Endpoint, type ProviderKind } from '../../src/core';
import { TestLlmServer } from '../server/llm-server';

export const FORMATS: ProviderKind[] = ['openai', 'anthropic', 'ollama'];

export const ask = (content = 'hi') => ({ messages: [{ role: 'user' as const, content }] });

/** One test server and one client for a test file; the script is reset after each test. */
export function useServer(): { server: () => TestLlmServer; client: () => LlmClient; endpoint: (provider: ProviderKind, extra?: Partial<Endpoint>) => Endpoint } {
  let server: TestLlmServer;
  let client: LlmClient;
  beforeAll(async () => {
    server = await TestLlmServer.start();
    client = new LlmClient();
  });
  afterEach(() => server.reset());
  afterAll(async () => {
    await client.close();
    await server.close();
  });
  return {
    server: () => server,
    client: () => client,
    endpoint: (provider, extra = {}) => ({ provider, baseUrl: server.baseUrl(provider), model: 'test-model', ...extra }),
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
