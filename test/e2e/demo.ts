/**
 * `npm run demo`: Flowgate against a bundled LLM simulator, no API key
 * needed. The simulator is the test server with realistic behaviour: a
 * first-token delay, a steady token rate, and a 20 requests/minute limit
 * announced in OpenAI-style headers. It opens desktop VS Code when `code` is
 * on PATH, and otherwise serves VS Code in the browser with code-server and
 * prints its URL. Ctrl+C stops everything.
 *
 * `npm run demo -- --smoke` is the same demo without a person, for CI: it
 * always serves code-server, opens the workbench in headless Chromium, asks
 * one question through the real Flowgate panel, waits for the streamed
 * answer, checks that the simulator received the request, saves
 * e2e-artifacts/demo-smoke.png, stops everything and exits 0. Any failure,
 * or taking longer than SMOKE_LIMIT_MS, stops everything and exits 1 with
 * the reason.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestLlmServer, type RecordedRequest, type Script } from '../server/llm-server';
import {
  assertInstalled,
  installExtension,
  launchBrowser,
  makeProfile,
  openWorkbench,
  startCodeServer,
  type Profile,
  type RunningCodeServer,
} from './code-server';
import { ask, openChatPanel, promptOf } from './workbench';

const ROOT = join(__dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'e2e-artifacts');
const MODEL = 'simulated-model';
/** The whole smoke run after setup: packaging, code-server, the browser, the answer. */
const SMOKE_LIMIT_MS = 240_000;
const SMOKE_QUESTION = 'How does Flowgate handle a rate limit?';

function answerFor(request: RecordedRequest): Script {
  const prompt = promptOf(request);
  const text = `## About your question\n\nYou asked: *${prompt.split('\n')[0]!.slice(0, 80)}*\n\nThis answer comes from Flowgate's **LLM simulator**, streamed token by token:\n\n1. the first token waits about half a second, like a warm model;\n2. then tokens arrive steadily;\n3. the simulator allows **20 requests a minute**: ask quickly several times to see the rate-limit notice and the quota in the status bar.\n\n\`\`\`ts\nconst client = new LlmClient();\nfor await (const event of client.stream(request, { endpoint })) {\n  if (event.type === 'text') render(event.text);\n}\n\`\`\`\n\nPress **Stop** at any time: the connection closes and the simulator stops generating.\n`;
  return { tokens: text.match(/\S+\s*/g) ?? [text], firstTokenDelayMs: 500, tokenDelayMs: 35 };
}

interface Demo {
  simulator: TestLlmServer;
  work: string;
  workspace: string;
  profile: Profile;
  /** Stops what was started, last first. */
  stops: (() => unknown)[];
}

/** The simulator, a small workspace, and a profile pointing Flowgate at the simulator. */
async function prepare(): Promise<Demo> {
  const simulator = await TestLlmServer.start();
  simulator.respond(answerFor);
  simulator.limit({ rpm: 20, burst: 3, headers: 'openai', retryAfter: 'retry-after-ms' });
  const work = mkdtempSync(join(tmpdir(), 'flowgate-demo-'));
  const stops: (() => unknown)[] = [() => rmSync(work, { recursive: true, force: true }), () => simulator.close()];
  const workspace = join(work, 'workspace');
  mkdirSync(join(workspace, 'src'), { recursive: true });
  writeFileSync(
    join(workspace, 'src', 'greet.ts'),
    'export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n',
  );
  writeFileSync(
    join(workspace, 'src', 'sum.ts'),
    'export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);\n',
  );
  writeFileSync(
    join(workspace, 'README.md'),
    '# Flowgate demo\n\nOpen the Flowgate view in the activity bar and ask a question.\n',
  );
  const settings = {
    'flowgate.endpoints': [{ id: 'simulator', provider: 'openai', baseUrl: `${simulator.origin}/v1`, model: MODEL }],
    'flowgate.activeEndpoint': 'simulator',
  };
  const profile = makeProfile(join(work, 'profile'), settings);
  return { simulator, work, workspace, profile, stops };
}

async function stopAll(demo: Demo): Promise<void> {
  for (const stop of demo.stops.splice(0).reverse()) {
    try {
      await stop();
    } catch {
      // Keep stopping the rest.
    }
  }
}

/** Packages Flowgate, installs it into a fresh code-server profile, and serves the workbench. */
async function serveInBrowser(demo: Demo): Promise<RunningCodeServer> {
  assertInstalled();
  const vsix = join(demo.work, 'flowgate.vsix');
  execFileSync(
    'npx',
    [
      'vsce',
      'package',
      '--no-dependencies',
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
      '--out',
      vsix,
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
  installExtension(demo.profile, vsix);
  const server = await startCodeServer(demo.profile, demo.workspace);
  demo.stops.push(() => server.stop());
  return server;
}

async function interactive(): Promise<void> {
  const demo = await prepare();
  process.on('SIGINT', () => void stopAll(demo).finally(() => process.exit(0)));
  console.log(`LLM simulator on ${demo.simulator.origin} (OpenAI-compatible, 20 requests/minute)`);
  if (spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0) {
    const child = spawn(
      'code',
      [
        '--new-window',
        '--user-data-dir',
        demo.profile.userDataDir,
        '--extensions-dir',
        demo.profile.extensionsDir,
        `--extensionDevelopmentPath=${ROOT}`,
        demo.workspace,
      ],
      { stdio: 'inherit' },
    );
    demo.stops.push(() => child.kill());
    console.log('Opened VS Code with Flowgate. Press Ctrl+C here to stop the simulator.');
    return;
  }
  const server = await serveInBrowser(demo);
  console.log(`\nVS Code with Flowgate is ready: ${server.url}\nOpen it in a browser. Press Ctrl+C to stop.`);
}

/** The demo as CI sees it; throws with the reason when any step fails. */
async function smoke(demo: Demo, progress: (what: string) => void): Promise<void> {
  const { simulator } = demo;
  const probe = await fetch(`${simulator.origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'ping' }], stream: false }),
  });
  const probed = (await probe.json().catch(() => ({}))) as { choices?: { message?: { content?: string } }[] };
  if (!probe.ok || !probed.choices?.[0]?.message?.content?.includes('LLM simulator'))
    throw new Error(`the simulator did not answer: HTTP ${probe.status}`);
  progress(`the simulator answers on ${simulator.origin}`);

  const server = await serveInBrowser(demo);
  progress(`code-server serves the workbench on ${new URL(server.url).origin}`);
  const browser = await launchBrowser();
  demo.stops.push(() => browser.close());
  const page = await openWorkbench(browser, server.url);
  progress('the workbench is loaded in Chromium');

  const chat = await openChatPanel(page);
  await ask(chat, SMOKE_QUESTION);
  progress('asked through the Flowgate panel');
  // The turn ends with a footer: the model and figures, or an error.
  const ended = await chat.waitForFunction(
    () => {
      const footer = document.querySelector('.turn:last-child .footer');
      const error = footer?.querySelector('.error');
      if (error) return `error: ${error.textContent ?? ''}`;
      return footer?.querySelector('.muted') ? 'done' : false;
    },
    undefined,
    { timeout: 60_000 },
  );
  const outcome = (await ended.jsonValue()) as string;
  if (outcome !== 'done') throw new Error(`the panel showed an ${outcome}`);
  const answer = await chat.$eval('.turn:last-child .answer', (e) => e.textContent ?? '');
  const footer = await chat.$eval('.turn:last-child .footer', (e) => e.textContent ?? '');
  if (
    !answer.includes('About your question') ||
    !answer.includes('LLM simulator') ||
    !answer.includes('stops generating')
  )
    throw new Error(`the answer is not the simulator's whole answer: ${answer.slice(0, 200)}`);
  if (!footer.includes(MODEL)) throw new Error(`the answer's footer does not name ${MODEL}: ${footer}`);
  const request = simulator.requests.find(
    (r) => r.path === '/v1/chat/completions' && r.body.stream === true && promptOf(r).includes(SMOKE_QUESTION),
  );
  if (!request)
    throw new Error(
      `the simulator did not receive the panel's question; it received: ${simulator.requests.map((r) => `${r.path} ${JSON.stringify(promptOf(r))}`).join(', ')}`,
    );
  progress(`the answer streamed into the panel (${footer})`);

  await page.waitForTimeout(500);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'demo-smoke.png') });
  progress('saved e2e-artifacts/demo-smoke.png');
}

async function smokeRun(): Promise<number> {
  const started = Date.now();
  const progress = (what: string): void =>
    console.log(`demo smoke: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const demo = await prepare();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not finish within ${SMOKE_LIMIT_MS / 1000} s`)), SMOKE_LIMIT_MS);
  });
  const stopped = new Promise<never>((_, reject) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => reject(new Error(`interrupted by ${signal}`)));
  });
  let code = 0;
  try {
    await Promise.race([smoke(demo, progress), limit, stopped]);
    progress('passed');
  } catch (error) {
    console.error(`demo smoke: FAILED: ${(error as Error).message}`);
    code = 1;
  } finally {
    clearTimeout(timer);
    // Stopping must not hang either.
    setTimeout(() => {
      console.error('demo smoke: could not stop everything within 20 s');
      process.exit(1);
    }, 20_000).unref();
    await stopAll(demo);
  }
  return code;
}

const run = process.argv.includes('--smoke') ? smokeRun().then((code) => process.exit(code)) : interactive();
run.catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
