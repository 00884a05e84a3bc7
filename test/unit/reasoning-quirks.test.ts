import { describe, expect, test } from 'vitest';
import { collect, type ChatRequest, type Endpoint } from '../../src/core';
import { PROVIDERS } from '../../src/core/providers';
import { parseEndpoints } from '../../src/host/settings/settings-model';
import { useServer } from './helpers';

const { server, client, endpoint } = useServer();

const limited: ChatRequest = { messages: [{ role: 'user', content: 'q' }], maxTokens: 1000, temperature: 0.2 };

async function bodyFor(target: Endpoint, request: ChatRequest = limited): Promise<Record<string, unknown>> {
  await collect(client().stream(request, { endpoint: target }));
  return server().requests.at(-1)!.body;
}

describe('OpenAI reasoning models get the request they accept', () => {
  test.each(['o3-mini', 'o1', 'gpt-5', 'gpt-5-mini', 'openai/gpt-5.1-codex'])(
    '%s: max_completion_tokens, no temperature',
    async (model) => {
      const body = await bodyFor(endpoint('openai', { model }));
      expect(body.max_completion_tokens).toBe(1000);
      expect(body).not.toHaveProperty('max_tokens');
      expect(body).not.toHaveProperty('temperature');
    },
  );

  test('other models keep max_tokens and temperature', async () => {
    const body = await bodyFor(endpoint('openai', { model: 'gpt-4o-mini' }));
    expect(body).toMatchObject({ max_tokens: 1000, temperature: 0.2 });
    expect(body).not.toHaveProperty('reasoning_effort');
  });

  test('an effort becomes reasoning_effort', async () => {
    const body = await bodyFor(endpoint('openai', { model: 'o4-mini', reasoning: { effort: 'high' } }));
    expect(body.reasoning_effort).toBe('high');
  });

  test('the Responses API asks reasoning models for summaries, with the effort when one is set', async () => {
    expect(await bodyFor(endpoint('openai-responses', { model: 'gpt-5-codex' }))).toMatchObject({
      reasoning: { summary: 'auto' },
      max_output_tokens: 1000,
    });
    const body = await bodyFor(endpoint('openai-responses', { model: 'gpt-5-pro', reasoning: { effort: 'low' } }));
    expect(body.reasoning).toEqual({ effort: 'low', summary: 'auto' });
    expect(body).not.toHaveProperty('temperature');
    const plain = await bodyFor(endpoint('openai-responses', { model: 'gpt-4.1' }));
    expect(plain).not.toHaveProperty('reasoning');
    expect(plain.temperature).toBe(0.2);
  });
});

describe('Anthropic extended thinking', () => {
  test('a budget turns it on, raises max_tokens above the budget, and drops temperature', async () => {
    const body = await bodyFor(endpoint('anthropic', { reasoning: { budgetTokens: 16_000 } }));
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 16_000 });
    expect(body.max_tokens).toBe(20_096);
    expect(body).not.toHaveProperty('temperature');
  });

  test('an effort picks a budget; a max_tokens already above it stays', async () => {
    const body = await bodyFor(endpoint('anthropic', { reasoning: { effort: 'medium' } }), {
      ...limited,
      maxTokens: 32_000,
    });
    expect(body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 8192 }, max_tokens: 32_000 });
  });

  test('without a setting, no thinking and the temperature as asked', async () => {
    const body = await bodyFor(endpoint('anthropic'));
    expect(body).not.toHaveProperty('thinking');
    expect(body).toMatchObject({ max_tokens: 1000, temperature: 0.2 });
  });
});

test("Ollama's think: a level, or on for a budget", async () => {
  expect((await bodyFor(endpoint('ollama', { reasoning: { effort: 'high' } }))).think).toBe('high');
  expect((await bodyFor(endpoint('ollama', { reasoning: { budgetTokens: 4096 } }))).think).toBe(true);
  expect(await bodyFor(endpoint('ollama'))).not.toHaveProperty('think');
});

test('Azure OpenAI takes the key as api-key, and keeps the api-version query', () => {
  const azure = {
    provider: 'openai' as const,
    baseUrl: 'https://flowgate-test.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21',
    model: 'gpt-4o',
    apiKey: 'azure-key-123',
  };
  const wire = PROVIDERS.openai.encode(azure, limited, true);
  expect(wire.path).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
  expect(wire.headers['api-key']).toBe('azure-key-123');
  expect(wire.headers).not.toHaveProperty('authorization');
  const openai = PROVIDERS.openai.encode({ ...azure, baseUrl: 'https://api.openai.com/v1' }, limited, true);
  expect(openai.headers.authorization).toBe('Bearer azure-key-123');
  expect(openai.headers).not.toHaveProperty('api-key');
});

test('the reasoning setting is checked like the rest of an endpoint', () => {
  const base = { id: 'r', provider: 'anthropic', baseUrl: 'https://api.anthropic.com', model: 'claude-sonnet-4-5' };
  const parsed = parseEndpoints([
    { ...base, reasoning: { budgetTokens: 8000 } },
    { ...base, id: 'a', reasoning: { effort: 'extreme' } },
    { ...base, id: 'b', reasoning: { budgetTokens: 100 } },
    { ...base, id: 'c', reasoning: 'high' },
    { ...base, id: 'd', reasoning: { effort: 'low', depth: 3 } },
  ]);
  expect(parsed.endpoints.map((e) => [e.id, e.reasoning])).toEqual([['r', { budgetTokens: 8000 }]]);
  expect(parsed.problems).toEqual([
    'flowgate.endpoints[1]: reasoning: "effort" must be minimal, low, medium or high.',
    'flowgate.endpoints[2]: reasoning: "budgetTokens" must be a whole number of at least 1024 (Anthropic\'s minimum).',
    'flowgate.endpoints[3]: reasoning: must be an object such as { "effort": "high" } or { "budgetTokens": 8000 }.',
    'flowgate.endpoints[4]: reasoning: "depth" is not a reasoning setting; use "effort" or "budgetTokens".',
  ]);
});
