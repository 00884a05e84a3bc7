/**
 * The E2E suite: the packaged extension in a real VS Code workbench
 * (code-server) in a real browser, used as a person would. Screenshots of
 * every step, and of any failure, go to e2e-artifacts/.
 *
 *   bash test/e2e/setup.sh && npm run test:e2e
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { TestLlmServer, type RecordedRequest, type Script } from '../server/llm-server';
import {
  assertInstalled,
  installExtension,
  launchBrowser,
  makeProfile,
  openWorkbench,
  startCodeServer,
} from './code-server';
import {
  ARTIFACTS,
  afterToolResult,
  answerQuickInput,
  ask,
  expect,
  openChatPanel,
  pickInConfirm,
  promptOf,
  runCommand,
  shot,
  statusText,
  waitUntil,
  withTimeout,
} from './workbench';
import { LOAD_DELTAS, loadSteps } from './load';
import { PACED_RPM, vscodeChatSteps } from './vscode-chat';
import { sharedSteps } from './shared';

const ROOT = join(__dirname, '..', '..');
const API_KEY = 'sk-e2e-secret-4242';
const MARKDOWN =
  '## Streaming works\n\nA **markdown** answer:\n\n- one\n- two\n\n```ts\nexport const answer = 42;\n```\n';

const chunks = (text: string, size = 4): string[] => text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g')) ?? [];

/** What the simulated provider answers, by prompt. */
const THOUGHT =
  'The user asks a question that needs care. First, recall what the panel should show; then check each part against the design before answering. ';

/** An OpenAI-style refusal, streamed. */
const REFUSAL = [{ role: 'assistant', refusal: "I can't help " }, { refusal: 'with that.' }]
  .map((delta) => `data: ${JSON.stringify({ choices: [{ index: 0, delta }] })}\n\n`)
  .concat(
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    'data: [DONE]\n\n',
  )
  .join('');

function script(request: RecordedRequest, limitedCalls: { panel: number; chat: number }, workspace: string): Script {
  const prompt = promptOf(request);
  if (afterToolResult(request)) {
    const result = JSON.stringify(request.body.messages);
    if (result.includes('12 degrees')) return { tokens: ['It is 12 degrees in Oslo.'] };
    return { tokens: [`The tool said: ${result.includes('alpha.ts') ? 'alpha.ts, beta.ts, gamma.ts' : 'nothing'}.`] };
  }
  if (prompt.includes('list the workspace folder'))
    return {
      tokens: [],
      toolCalls: [{ id: 'call_ls', name: 'list_dir', arguments: JSON.stringify({ path: join(workspace, 'src') }) }],
    };
  if (prompt.includes('a broken request'))
    return { status: 400, error: { message: "The model 'cloud-model' does not exist", type: 'invalid_request_error' } };
  if (prompt.includes('throttled') && limitedCalls.chat++ === 0)
    return {
      status: 429,
      headers: { 'retry-after': '3' },
      error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' },
    };
  if (prompt.includes('load test'))
    // The panel's answer beside the batch is slower, so that it is still streaming while all 31 files do.
    return {
      tokens: Array.from({ length: LOAD_DELTAS }, (_, i) => `word${i} `),
      tokenDelayMs: prompt.includes('beside a batch') ? 30 : 10,
    };
  if (prompt.includes('Shared review'))
    return { tokens: ['Reviewed ', /shared\/f\d+\.txt/.exec(prompt)?.[0] ?? '?'], firstTokenDelayMs: 600 };
  if (prompt.includes('markdown'))
    return { tokens: chunks(MARKDOWN), tokenDelayMs: 15, usage: { input: 1000, output: 500 } };
  if (prompt.includes('slow')) return { tokens: chunks('word '.repeat(400), 5), tokenDelayMs: 150 };
  if (prompt.includes('limited please') && limitedCalls.panel++ === 0)
    return { status: 429, headers: { 'retry-after-ms': '2500' } };
  if (prompt.includes('think hard'))
    return {
      reasoning: chunks(THOUGHT, 12),
      tokenDelayMs: 120,
      tokens: ['The answer ', 'begins here'],
      finish: 'length',
    };
  if (prompt.includes('Continue exactly')) return { tokens: [' and ends here.'] };
  if (prompt.includes('weather'))
    return { tokens: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] };
  if (prompt.includes('refuse') && request.format === 'openai')
    return { rawStream: REFUSAL, headers: { 'content-type': 'text/event-stream' } };
  return { tokens: ['A short answer.'] };
}

async function main(): Promise<number> {
  assertInstalled();
  // The suite's own files from an earlier run; the demo's smoke run (demo-*) keeps its screenshot.
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const name of readdirSync(ARTIFACTS))
    if (!name.startsWith('demo-')) rmSync(join(ARTIFACTS, name), { recursive: true, force: true });
  const work = mkdtempSync(join(tmpdir(), 'flowgate-e2e-'));
  const llm = await TestLlmServer.start();
  const limitedCalls = { panel: 0, chat: 0 };
  const workspace = join(work, 'workspace');
  llm.respond((request) => script(request, limitedCalls, workspace));
  mkdirSync(join(workspace, 'src'), { recursive: true });
  for (const name of ['alpha', 'beta', 'gamma'])
    writeFileSync(join(workspace, 'src', `${name}.ts`), `export const ${name} = '${name}';\n`);

  const vsix = join(work, 'flowgate.vsix');
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
  const lmClient = packageLmClient(work);
  const profile = makeProfile(join(work, 'profile'), {
    // VS Code's own chat, for the steps that use Flowgate's models there.
    'chat.disableAIFeatures': false,
    'flowgate.endpoints': [
      { id: 'sim', provider: 'ollama', baseUrl: llm.origin, model: 'sim-model' },
      { id: 'cloud', provider: 'openai', baseUrl: `${llm.origin}/v1`, model: 'cloud-model' },
      { id: 'paced', provider: 'openai', baseUrl: `${llm.origin}/v1`, model: 'paced-model', rpm: PACED_RPM },
    ],
    'flowgate.activeEndpoint': 'sim',
    'flowgate.retry.maxAttempts': 3,
    'flowgate.prices': {
      'sim-model': { input: 2, output: 8 },
      'cloud-model': { input: 2, output: 8, cachedInput: 0.5, batch: 0.5 },
    },
    'flowgate.cache.mode': 'always',
    // The load step runs 31 files at once beside a chat answer.
    'flowgate.batch.concurrency': 32,
  });
  installExtension(profile, vsix);
  installExtension(profile, lmClient);
  const codeServer = await startCodeServer(profile, workspace);
  const browser = await launchBrowser();
  const page = await openWorkbench(browser, codeServer.url);
  const suite = new Suite(page);
  try {
    await suite.run([
      ...steps(page, llm, workspace),
      ...vscodeChatSteps(page, llm, workspace),
      ...loadSteps(page, llm, workspace, codeServer.pid),
      ...sharedSteps(page, llm, workspace, join(profile.userDataDir, 'User', 'settings.json')),
    ]);
  } finally {
    await browser.close();
    await codeServer.stop();
    await llm.close();
    rmSync(work, { recursive: true, force: true });
  }
  return suite.report();
}

function steps(page: Page, llm: TestLlmServer, workspace: string): [string, () => Promise<void>][] {
  let chat: Frame;
  return [
    [
      'open the Flowgate panel',
      async () => {
        chat = await openChatPanel(page);
      },
    ],
    [
      'ask, and see the answer stream in as rendered markdown',
      async () => {
        const statusBefore = await statusText(page);
        await ask(chat, 'Show me some markdown');
        await chat.waitForSelector('.answer h2', { timeout: 10_000 });
        await shot(page, 'streaming');
        await chat.waitForSelector('.answer pre.code-block .hljs-keyword', { timeout: 10_000 });
        await chat.waitForFunction(
          () => document.querySelector('.footer .muted')?.textContent?.includes('sim-model'),
          undefined,
          { timeout: 10_000 },
        );
        await waitUntil(async () => (await statusText(page)) !== statusBefore, 'the status bar to change');
        expect(/sim-model/.test(await statusText(page)), `status bar shows the model: ${await statusText(page)}`);
      },
    ],
    [
      'answers show their cost; in a new chat the same question comes from the cache',
      async () => {
        const firstFooter = await chat.$eval('.turn:last-child .footer', (e) => e.textContent ?? '');
        expect(firstFooter.includes('$0.0060'), `the first answer's footer shows its cost: ${firstFooter}`);
        // Within a conversation a repeated question carries the earlier turns, so it is a different request.
        await runCommand(page, 'Flowgate: New Chat');
        await chat.waitForFunction(() => document.querySelectorAll('.turn').length === 0);
        const before = llm.requests.length;
        await ask(chat, 'Show me some markdown');
        await chat.waitForFunction(
          () => document.querySelector('.turn:last-child .footer')?.textContent?.includes('cached'),
          undefined,
          { timeout: 10_000 },
        );
        expect(llm.requests.length === before, 'no request reached the server');
        await chat.waitForSelector('.turn:last-child .answer h2');
      },
    ],
    [
      'a prompt holding an API key: asked first, then sent with a placeholder',
      async () => {
        const secret = 'sk-proj-E2eSecretValue0123456789abcdef';
        const before = llm.requests.length;
        await ask(chat, `why does ${secret} fail`);
        const redact = page.getByRole('button', { name: 'Send Redacted' });
        await redact.waitFor({ timeout: 10_000 });
        await shot(page, 'redaction-warning');
        await redact.click();
        await waitUntil(() => llm.requests.length > before, 'the redacted request');
        const sent = promptOf(llm.requests.at(-1)!);
        expect(sent === 'why does [API_KEY_1] fail', `the server got the placeholder: ${sent}`);
        expect(!JSON.stringify(llm.requests).includes(secret), 'the key never reached the server');
      },
    ],
    [
      'Stop mid-stream closes the connection at the server',
      async () => {
        const disconnected = llm.waitForDisconnect();
        await ask(chat, 'a slow answer please');
        await chat.waitForSelector('button.stop:not([hidden])');
        await page.waitForTimeout(1200);
        await chat.click('button.stop');
        await withTimeout(disconnected, 5000, 'the server to see the disconnect');
        await chat.waitForFunction(() =>
          [...document.querySelectorAll('.footer .muted')].some((e) => e.textContent === 'Stopped.'),
        );
      },
    ],
    [
      'a rate-limited request shows a retry notice, then the answer',
      async () => {
        await ask(chat, 'limited please');
        await chat.waitForFunction(
          () => /rate limited, retrying in/.test(document.querySelector('.turn:last-child .notice')?.textContent ?? ''),
          undefined,
          { timeout: 10_000 },
        );
        await shot(page, 'retry-notice');
        await chat.waitForFunction(
          () => document.querySelector('.turn:last-child .answer')?.textContent?.includes('A short answer.'),
          undefined,
          { timeout: 15_000 },
        );
      },
    ],
    [
      'set an API key through the command, and it reaches only its endpoint',
      async () => {
        await runCommand(page, 'Flowgate: Set API Key');
        await page.keyboard.type('cloud');
        await page.keyboard.press('Enter');
        await page.waitForSelector('.quick-input-widget input[type="password"]', { timeout: 5000 });
        await page.keyboard.type(API_KEY);
        await shot(page, 'api-key');
        await page.keyboard.press('Enter');
        await page.waitForTimeout(500);
        await chat.selectOption('select.endpoint', 'cloud');
        await page.waitForTimeout(1000);
        const before = llm.requests.length;
        await ask(chat, 'which endpoint answers');
        await waitUntil(() => llm.requests.length > before, 'the request to arrive');
        const request = llm.requests.at(-1)!;
        expect(request.path === '/v1/chat/completions', `sent to the OpenAI-compatible route, got ${request.path}`);
        expect(request.headers.authorization === `Bearer ${API_KEY}`, 'the stored key is sent to its endpoint');
        expect(
          llm.requests.filter((r) => r.format === 'ollama').every((r) => !JSON.stringify(r.headers).includes(API_KEY)),
          'the key never went to the other endpoint',
        );
        const html = await chat.content();
        expect(!html.includes(API_KEY), 'the key never appears in the panel');
      },
    ],
    [
      'thinking folds when the answer starts; a cut-off answer continues; tool calls and refusals show as such',
      async () => {
        await ask(chat, 'think hard please');
        await chat.waitForSelector('.turn:last-child details.thinking[open]', { timeout: 10_000 });
        await page.waitForTimeout(400);
        await shot(page, 'thinking');
        await chat.waitForFunction(
          () => document.querySelector('.turn:last-child .answer')?.textContent?.includes('The answer begins here'),
          undefined,
          { timeout: 15_000 },
        );
        const folded = await chat.$eval('.turn:last-child details.thinking', (d) => !(d as HTMLDetailsElement).open);
        expect(folded, 'the thinking folded when the answer started');
        const thought = await chat.$eval('.turn:last-child .thinking-text', (e) => e.textContent ?? '');
        expect(thought.includes('recall what the panel should show'), `the thinking is kept: ${thought.slice(0, 60)}`);
        await chat.waitForSelector('.turn:last-child .ending-length button', { timeout: 10_000 });
        await shot(page, 'truncated');
        await chat.click('.turn:last-child .ending-length button');
        await chat.waitForFunction(
          () => document.querySelector('.turn:last-child .answer')?.textContent?.includes('and ends here'),
          undefined,
          { timeout: 10_000 },
        );
        const asked = llm.requests.at(-1)!;
        expect(promptOf(asked).startsWith('Continue exactly'), `Continue asks the model to go on: ${promptOf(asked)}`);
        expect(JSON.stringify(asked.body).includes('The answer begins here'), 'with the cut-off answer in the history');
        await ask(chat, 'weather in Oslo?');
        await chat.waitForSelector('.turn:last-child .tool-call', { timeout: 10_000 });
        const args = await chat.$eval('.turn:last-child .tool-call-args', (e) => e.textContent ?? '');
        expect(args.includes('"city": "Oslo"'), `the call's arguments are shown: ${args}`);
        await chat.waitForSelector('.turn:last-child .ending-tool_calls', { timeout: 10_000 });
        await ask(chat, 'please refuse');
        await chat.waitForSelector('.turn:last-child .refusal', { timeout: 10_000 });
        const refusal = await chat.$eval('.turn:last-child .refusal', (e) => e.textContent ?? '');
        expect(refusal.includes("I can't help with that."), `the refusal is shown whole: ${refusal}`);
        await page.waitForTimeout(500);
        await shot(page, 'tool-call-and-refusal');
      },
    ],
    [
      'run the batch command on three workspace files and find their outputs',
      async () => {
        await runCommand(page, 'Flowgate: Run Prompt on Selected Files');
        await page.keyboard.press('Control+A');
        await page.keyboard.type('src/*.ts');
        await page.keyboard.press('Enter');
        await page.waitForTimeout(800);
        await page.keyboard.type('Type a prompt');
        await page.keyboard.press('Enter');
        await page.waitForTimeout(500);
        await page.keyboard.type('Summarise {{path}}');
        await page.keyboard.press('Enter');
        await page.waitForSelector('.quick-input-widget .quick-input-title:has-text("Run the prompt on 3 file(s)?")', {
          timeout: 15_000,
        });
        await shot(page, 'batch-confirm');
        await page.keyboard.press('Enter');
        const outputs = ['alpha', 'beta', 'gamma'].map((n) => join(workspace, 'src', `${n}.ts.flowgate.md`));
        await waitUntil(() => outputs.every((f) => existsSync(f)), 'three batch outputs', 20_000);
        await page.waitForTimeout(800);
        await shot(page, 'batch-done');
        expect(
          outputs.every((f) => readFileSync(f, 'utf8') === 'A short answer.'),
          'each output holds its answer',
        );
      },
    ],
    [
      'from the Explorer, two files as a provider batch: uploaded, polled, written beside them',
      async () => {
        mkdirSync(join(workspace, 'provider'), { recursive: true });
        for (const name of ['one', 'two']) writeFileSync(join(workspace, 'provider', `${name}.txt`), `${name}\n`);
        llm.batches.pace = { instant: true };
        const uploadsBefore = llm.batches.created;
        await selectInExplorer(page, 'provider', ['one.txt', 'two.txt']);
        await page.locator('.explorer-folders-view .monaco-list-row.selected').last().click({ button: 'right' });
        // Hovering focuses the menu item; Enter runs it (a synthetic click is not always taken).
        await page.locator('.context-view .action-label', { hasText: 'Run Prompt on Selected Files' }).hover();
        await page.waitForTimeout(300);
        await page.keyboard.press('Enter');
        await answerQuickInput(page, 'Type a prompt');
        await answerQuickInput(page, 'Summarise {{path}}');
        await pickInConfirm(page, 'Endpoint');
        await answerQuickInput(page, 'cloud');
        await pickInConfirm(page, 'Live: one request per file, now');
        const modeRow = page.locator('.quick-input-list .monaco-list-row', { hasText: 'As a provider batch' });
        await modeRow.waitFor({ timeout: 15_000 });
        // Both modes side by side, at the configured price: the batch costs half the live run.
        const costs = /live \$([\d.]+)–\$([\d.]+), .* · batch \$([\d.]+)–\$([\d.]+), within 24 h/.exec(
          (await modeRow.textContent()) ?? '',
        );
        expect(costs !== null, `the mode row compares both modes: ${await modeRow.textContent()}`);
        const [liveFrom, liveTo, batchFrom, batchTo] = costs!.slice(1).map(Number) as [number, number, number, number];
        expect(
          Math.abs(batchTo - liveTo / 2) <= 0.01 && batchFrom <= liveFrom,
          `the provider batch at half price: ${costs![0]}`,
        );
        await shot(page, 'batch-provider-confirm');
        await pickInConfirm(page, 'Run');
        const outputs = ['one', 'two'].map((n) => join(workspace, 'provider', `${n}.txt.flowgate.md`));
        await waitUntil(() => outputs.every((f) => existsSync(f)), 'two provider batch outputs', 30_000);
        expect(llm.batches.created === uploadsBefore + 1, `one provider batch: ${llm.batches.created - uploadsBefore}`);
        expect(
          outputs.every((f) => readFileSync(f, 'utf8') === 'A short answer.'),
          'each output holds its answer from the provider batch',
        );
        await page.waitForTimeout(800);
        await shot(page, 'batch-provider-done');
      },
    ],
  ];
}

/** Selects files in a folder of the Explorer, expanding the folder first. */
async function selectInExplorer(page: Page, folder: string, names: string[]): Promise<void> {
  await runCommand(page, 'View: Show Explorer');
  const row = (name: string) => page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row(folder).click();
  for (const [index, name] of names.entries()) {
    await row(name).waitFor({ timeout: 10_000 });
    await row(name).click({ modifiers: index ? ['Control'] : [] });
  }
}

/** The second extension (test/e2e/lm-client), built by esbuild, packaged for code-server. */
function packageLmClient(work: string): string {
  const stage = join(work, 'lm-client');
  mkdirSync(stage, { recursive: true });
  copyFileSync(join(ROOT, 'test', 'e2e', 'lm-client', 'package.json'), join(stage, 'package.json'));
  copyFileSync(join(ROOT, 'dist', 'e2e', 'lm-client', 'extension.js'), join(stage, 'extension.js'));
  writeFileSync(join(stage, 'LICENSE'), 'MIT\n');
  const vsix = join(work, 'lm-client.vsix');
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'vsce'),
    ['package', '--no-dependencies', '--allow-missing-repository', '--out', vsix],
    { cwd: stage, stdio: 'pipe' },
  );
  return vsix;
}

class Suite {
  private passed = 0;
  private readonly failed: string[] = [];
  private index = 0;
  constructor(private readonly page: Page) {}

  async run(tests: [string, () => Promise<void>][]): Promise<void> {
    // FLOWGATE_E2E_ONLY=regex runs the matching steps only (while working on them; CI runs all).
    const only = process.env.FLOWGATE_E2E_ONLY ? new RegExp(process.env.FLOWGATE_E2E_ONLY, 'i') : undefined;
    for (const [name, body] of tests) {
      this.index++;
      if (only && !only.test(name)) continue;
      try {
        await body();
        await shot(this.page, `${String(this.index).padStart(2, '0')}-${slug(name)}`);
        this.passed++;
        console.log(`  ok    ${name}`);
      } catch (error) {
        this.failed.push(name);
        await shot(this.page, `${String(this.index).padStart(2, '0')}-FAILED-${slug(name)}`).catch(() => {});
        console.log(`  FAIL  ${name}\n        ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }

  report(): number {
    writeFileSync(join(ARTIFACTS, 'results.json'), JSON.stringify({ passed: this.passed, failed: this.failed }));
    console.log(`${this.passed} passed, ${this.failed.length} failed`);
    return this.failed.length ? 1 : 0;
  }
}

const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
