/**
 * The test LLM server in its own process, so that the client being measured
 * has the event loop to itself. Driven over IPC by the benchmark.
 */
import { readFileSync } from 'node:fs';
import { TestLlmServer, type RateLimit, type Script } from '../server/llm-server';

export type ServerCommand = { id: number } & (
  { kind: 'respond'; script: Script } | { kind: 'limit'; limit: RateLimit } | { kind: 'reset' } | { kind: 'stats' }
);
export interface ServerReply {
  id: number;
  requests: number;
  rejected: number;
  disconnects: number;
}

async function main(): Promise<void> {
  // `--tls KEY CERT`: HTTPS with HTTP/2 (and HTTP/1.1 for clients that do not offer it).
  const tlsAt = process.argv.indexOf('--tls');
  const tls =
    tlsAt === -1
      ? undefined
      : { key: readFileSync(process.argv[tlsAt + 1]!), cert: readFileSync(process.argv[tlsAt + 2]!) };
  const server = await TestLlmServer.start(tls);
  process.on('message', (command: ServerCommand) => {
    if (command.kind === 'respond') server.respond(command.script);
    if (command.kind === 'limit') server.limit(command.limit);
    if (command.kind === 'reset') server.reset();
    const reply: ServerReply = {
      id: command.id,
      requests: server.requests.length,
      rejected: server.rejected,
      disconnects: server.disconnects,
    };
    // Recorded requests are only needed for counting here; drop them so memory stays flat.
    server.requests.length = 0;
    server.arrivals.length = 0;
    process.send?.(reply);
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
  process.send?.({ origin: server.origin });
}

void main();
