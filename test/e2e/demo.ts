/**
 * `npm run demo`: Flowgate against a bundled LLM simulator, no API key
 * needed. The simulator is the test server with realistic behaviour: a
 * first-token delay, a steady token rate, and a 20 requests/minute limit
 * announced in OpenAI-style headers. It opens desktop VS Code when `code` is
 * on PATH, and otherwise serves VS Code in the browser with code-server and
 * prints its URL. Ctrl+C stops everything.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestLlmServer, type RecordedRequest, type Script } from '../server/llm-server';
import { installExtension, makeProfile, startCodeServer } from './code-server';

const ROOT = join(__dirname, '..', '..');

function answerFor(request: RecordedRequest): Script {
  const prompt = ((request.body.messages as { content: string }[]).at(-1) as { content: string }).content;
  const text = `## About your question\n\nYou asked: *${prompt.split('\n')[0]!.slice(0, 80)}*\n\nThis answer comes from Flowgate's **LLM simulator**, streamed token by token:\n\n1. the first token waits about half a second, like a warm model;\n2. then tokens arrive steadily;\n3. the simulator allows **20 requests a minute**: ask quickly several times to see the rate-limit notice and the quota in the status bar.\n\n\`\`\`ts\nconst client = new LlmClient();\nfor await (const event of client.stream(request, { endpoint })) {\n  if (event.type === 'text') render(event.text);\n}\n\`\`\`\n\nPress **Stop** at any time: the connection closes and the simulator stops generating.\n`;
  return { tokens: text.match(/\S+\s*/g) ?? [text], firstTokenDelayMs: 500, tokenDelayMs: 35 };
}

async function main(): Promise<void> {
  const simulator = await TestLlmServer.start();
  simulator.respond(answerFor);
  simulator.limit({ rpm: 20, burst: 3, headers: 'openai', retryAfter: 'retry-after-ms' });
  const work = mkdtempSync(join(tmpdir(), 'flowgate-demo-'));
  const workspace = join(work, 'workspace');
  mkdirSync(join(workspace, 'src'), { recursive: true });
  writeFileSync(join(workspace, 'src', 'greet.ts'), 'export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n');
  writeFileSync(join(workspace, 'src', 'sum.ts'), 'export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);\n');
  writeFileSync(join(workspace, 'README.md'), '# Flowgate demo\n\nOpen the Flowgate view in the activity bar and ask a question.\n');
  const settings = {
    'flowgate.endpoints': [{ id: 'simulator', provider: 'openai', baseUrl: `${simulator.origin}/v1`, model: 'simulated-model' }],
    'flowgate.activeEndpoint': 'simulator',
  };
  const profile = makeProfile(join(work, 'profile'), settings);
  const stop: (() => void)[] = [() => void simulator.close()];
  process.on('SIGINT', () => {
    for (const s of stop) s();
    process.exit(0);
  });
  console.log(`LLM simulator on ${simulator.origin} (OpenAI-compatible, 20 requests/minute)`);
  if (spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0) {
    const child = spawn('code', ['--new-window', '--user-data-dir', profile.userDataDir, '--extensions-dir', profile.extensionsDir, `--extensionDevelopmentPath=${ROOT}`, workspace], { stdio: 'inherit' });
    stop.push(() => child.kill());
    console.log('Opened VS Code with Flowgate. Press Ctrl+C here to stop the simulator.');
    return;
  }
  const vsix = join(work, 'flowgate.vsix');
  execFileSync('npx', ['vsce', 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix], { cwd: ROOT, stdio: 'ignore' });
  installExtension(profile, vsix);
  const server = await startCodeServer(profile, workspace);
  stop.push(() => server.stop());
  console.log(`\nVS Code with Flowgate is ready: ${server.url}\nOpen it in a browser. Press Ctrl+C to stop.`);
}

void main();
