/**
 * The engine as each CLI command makes it: one LlmClient with the command's
 * timeouts and retries, sharing its limits through Redis when `--redis` or
 * FLOWGATE_REDIS_URL names one (the password from FLOWGATE_REDIS_PASSWORD,
 * never the command line). A Redis that cannot be used is an error before
 * anything is sent.
 */
import { LlmClient, connectRedisState, type RedisSharedState } from '../core';
import type { EndpointArgs } from './args';

export interface Engine {
  client: LlmClient;
  /** Where limits, the cache and joined jobs are shared, when they are. */
  shared?: RedisSharedState;
  close(): Promise<void>;
}

export async function startEngine(
  args: Pick<EndpointArgs, 'timeouts' | 'maxAttempts' | 'redisUrl'>,
  env: NodeJS.ProcessEnv,
  notice: (line: string) => void,
): Promise<Engine> {
  let shared: RedisSharedState | undefined;
  if (args.redisUrl)
    shared = await connectRedisState(args.redisUrl, { password: env.FLOWGATE_REDIS_PASSWORD, onNotice: notice });
  const client = new LlmClient({
    timeouts: args.timeouts,
    retry: { maxAttempts: args.maxAttempts },
    sharedState: shared,
  });
  return {
    client,
    shared,
    async close() {
      await client.close();
      await shared?.close();
    },
  };
}
