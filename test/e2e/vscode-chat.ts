/**
 * The E2E steps in VS Code's own chat (Copilot Chat inside code-server, signed
 * out): Flowgate's endpoints as models there, in ask and agent mode, and from
 * another extension through vscode.lm.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TestLlmServer } from '../server/llm-server';
import {
  afterToolResult,
  ask,
  expect,
  promptOf,
  runCommand,
  shot,
  statusText,
  waitUntil,
  webviewWith,
  withTimeout,
} from './workbench';

const CLOUD = 'Flowgate · cloud cloud-model';
const PACED = 'Flowgate · paced paced-model';
/**
 * The paced endpoint's limit, which the server also enforces while VS Code's chat and the panel
 * share it: at 60 a minute the server's bucket holds one request, so any slip in pacing is a 429.
 */
export const PACED_RPM = 60;

/** The chat's last answer. */
const LAST_ANSWER = '.monaco-list-row.response:last-of-type .rendered-markdown';

export function vscodeChatSteps(page: Page, llm: TestLlmServer, workspace: string): [string, () => Promise<void>][] {
  return [
    [
      "VS Code's chat lists Flowgate's models; one is picked in the chat's model picker",
      async () => {
        // On a fresh profile the chat asks for a GitHub sign-in until this has run once.
        await runCommand(page, 'Chat: Manage Language Models');
        await page.getByText(CLOUD, { exact: true }).first().waitFor({ timeout: 30_000 });
        await page.getByText(PACED, { exact: true }).first().waitFor();
        await shot(page, 'vscode-chat-models');
        await page.keyboard.press('Escape');
        await runCommand(page, 'Chat: Open Chat');
        await page.locator('.interactive-input-part .monaco-editor').first().waitFor({ timeout: 20_000 });
        // Copilot's offer to set "utility models" covers the input; it is not needed here.
        const dismiss = page.locator('a[aria-label="Dismiss notification"]').first();
        if (await dismiss.isVisible().catch(() => false)) await dismiss.click();
        await pickModel(page, CLOUD);
      },
    ],
    [
      "VS Code's chat streams Flowgate's answer as markdown and the status bar shows it running",
      async () => {
        let sawRunning = false;
        const watching = watchStatus(page, (text) => (sawRunning ||= /running/.test(text)));
        await askChat(page, 'Show me some markdown');
        await page.locator(`${LAST_ANSWER} h2`).filter({ hasText: 'Streaming works' }).waitFor({ timeout: 20_000 });
        // The code block is an editor of its own, beside the markdown.
        await page
          .locator('.monaco-list-row.response:last-of-type')
          .filter({ hasText: /export\s+const\s+answer\s*=\s*42/ })
          .waitFor({ timeout: 10_000 });
        watching.stop();
        await shot(page, 'vscode-chat-answer');
        expect(sawRunning, 'the status bar showed the request running');
        const request = llm.requests.at(-1)!;
        expect(request.path === '/v1/chat/completions', `sent through the cloud endpoint: ${request.path}`);
      },
    ],
    [
      "Stop in VS Code's chat closes the connection at the server",
      async () => {
        const disconnected = llm.waitForDisconnect();
        await askChat(page, 'a slow answer please');
        await page.locator(LAST_ANSWER).filter({ hasText: 'word word' }).waitFor({ timeout: 20_000 });
        await shot(page, 'vscode-chat-streaming');
        const stopped = Date.now();
        await page.locator('.interactive-input-part a[aria-label^="Cancel"]').first().click();
        await withTimeout(disconnected, 5000, 'the server to see the disconnect');
        console.log(`        Stop to socket closed at the server: ${Date.now() - stopped} ms`);
      },
    ],
    [
      "a 429 with Retry-After in VS Code's chat is retried into one answer, not an error",
      async () => {
        const before = llm.requests.length;
        await askChat(page, 'throttled please');
        await page.locator(LAST_ANSWER).filter({ hasText: 'A short answer.' }).waitFor({ timeout: 20_000 });
        const asked = llm.requests
          .map((request, index) => ({ request, at: llm.arrivals[index]! }))
          .slice(before)
          .filter(({ request }) => promptOf(request).includes('throttled'));
        expect(asked.length === 2, `asked twice, once refused and once answered: ${asked.length}`);
        const gapMs = asked[1]!.at - asked[0]!.at;
        expect(gapMs >= 2900, `the retry waited for Retry-After: 3 (${gapMs} ms)`);
        const errors = await page.locator('.monaco-list-row.response:last-of-type .chat-error-content').count();
        expect(errors === 0, 'no error in the chat');
        await shot(page, 'vscode-chat-retried');
      },
    ],
    [
      "an error reaches VS Code's chat as Flowgate's message, not a stack trace",
      async () => {
        await askChat(page, 'a broken request');
        const row = page.locator('.monaco-list-row.response:last-of-type');
        await row.filter({ hasText: 'answered 400' }).waitFor({ timeout: 20_000 });
        const text = await row.innerText();
        expect(text.includes("The server said: The model 'cloud-model' does not exist"), `the server's words: ${text}`);
        expect(!/\bat .+:\d+:\d+/.test(text), `no stack trace: ${text}`);
        await shot(page, 'vscode-chat-error');
      },
    ],
    [
      "agent mode: the server's tool call runs in VS Code and its result comes back to the server",
      async () => {
        const before = llm.requests.length;
        await askChat(page, 'list the workspace folder');
        await page
          .locator(LAST_ANSWER)
          .filter({ hasText: 'The tool said: alpha.ts, beta.ts, gamma.ts.' })
          .waitFor({ timeout: 30_000 });
        const first = llm.requests.slice(before).find((r) => promptOf(r).includes('list the workspace folder'))!;
        const tools = (first.body.tools as { function: { name: string } }[]).map((t) => t.function.name);
        expect(tools.includes('list_dir') && tools.length > 10, `agent mode sent its tools: ${tools.length}`);
        const followUp = llm.requests.slice(before).find(afterToolResult)!;
        const result = (followUp.body.messages as { role: string; tool_call_id?: string; content?: string }[]).at(-1)!;
        expect(result.tool_call_id === 'call_ls', `the result carries the call's id: ${result.tool_call_id}`);
        expect(String(result.content).includes('alpha.ts'), 'the result is the folder listing');
        await shot(page, 'vscode-chat-agent-tool');
      },
    ],
    [
      "another extension uses Flowgate's models through vscode.lm: tools, their results and a cancel",
      async () => {
        const result = await runClient(page, workspace, 'Flowgate E2E: Tools and Cancel', 'tools-and-cancel');
        const models = result.models as { id: string; name: string }[];
        expect(
          ['sim', 'cloud', 'paced'].every((id) => models.some((m) => m.id === id)),
          `selectChatModels({ vendor: 'flowgate' }) lists every endpoint: ${JSON.stringify(models)}`,
        );
        expect((result.tokens as number) > 0, `countTokens answers: ${String(result.tokens)}`);
        const calls = result.calls as { callId: string; name: string; input: { city?: string } }[];
        expect(
          calls[0]?.name === 'get_weather' && calls[0].input.city === 'Oslo',
          `a tool call: ${JSON.stringify(calls)}`,
        );
        expect(
          result.secondText === 'It is 12 degrees in Oslo.',
          `the tool result came back: ${String(result.secondText)}`,
        );
        const withResult = llm.requests.filter(afterToolResult).at(-1)!;
        const sent = (withResult.body.messages as { tool_call_id?: string }[]).at(-1)!;
        expect(sent.tool_call_id === calls[0]!.callId, 'the call id round-tripped');
        const cancel = result.cancel as { received: string; endedAfterMs: number; ended: string };
        expect(cancel.received.startsWith('word'), `words arrived before the cancel: ${cancel.received}`);
        expect(cancel.endedAfterMs < 2000, `the stream ended soon after the cancel: ${JSON.stringify(cancel)}`);
        const failure = result.failure as { name: string; message: string; stack?: string; code?: string };
        expect(
          failure.name === 'FlowgateChatError' &&
            failure.code === 'FLOWGATE_HTTP' &&
            failure.message.includes("The model 'cloud-model' does not exist") &&
            !failure.stack,
          `a failure reaches another extension as Flowgate's message and code, without a stack: ${JSON.stringify(failure)}`,
        );
      },
    ],
    [
      "VS Code's chat and Flowgate's panel share one endpoint's rate: no 429 from a server enforcing it",
      async () => {
        // By command: the activity-bar icon would close the view when it is already open.
        await runCommand(page, 'Flowgate: Open Chat');
        const panel = await webviewWith(page, 'textarea.prompt');
        await panel.selectOption('select.endpoint', 'paced');
        await page.waitForTimeout(500);
        // The server holds the paced model to the endpoint's 60 a minute, one at a time with no burst, as a
        // provider's per-model limit does; VS Code's chat may ask the cloud model for a title meanwhile.
        llm.limit({ rpm: PACED_RPM, appliesTo: (r) => r.body.model === 'paced-model' });
        const rejectedBefore = llm.rejected;
        const before = llm.requests.length;
        try {
          // Five from another extension through vscode.lm and one from the panel, all at once.
          await ask(panel, 'panel burst question');
          const result = await runClient(page, workspace, 'Flowgate E2E: Burst', 'burst');
          await panel.waitForFunction(
            () => document.querySelector('.turn:last-child .answer')?.textContent?.includes('A short answer.'),
            undefined,
            { timeout: 20_000 },
          );
          const answers = result.answers as string[];
          expect(
            answers.length === 5 && answers.every((a) => a === 'A short answer.'),
            `five answers: ${JSON.stringify(answers)}`,
          );
          const paced = llm.requests
            .map((request, index) => ({ request, at: llm.arrivals[index]! }))
            .slice(before)
            .filter(({ request }) => request.body.model === 'paced-model');
          expect(
            paced.length === 6,
            `six requests reached the server: ${paced.map(({ request }) => promptOf(request)).join(' | ')}`,
          );
          const arrivals = paced.map(({ at }) => at);
          const spanMs = Math.max(...arrivals) - Math.min(...arrivals);
          expect(spanMs >= 5000, `paced at about one a second: six requests over ${Math.round(spanMs)} ms`);
          expect(llm.rejected === rejectedBefore, `no 429s: ${llm.rejected - rejectedBefore}`);
          await shot(page, 'vscode-chat-shared-rate');
        } finally {
          llm.unlimit();
        }
      },
    ],
  ];
}

/** Chooses a model in the chat input's model picker. */
async function pickModel(page: Page, name: string): Promise<void> {
  await page.locator('.interactive-input-part a.model-picker-name').first().click();
  await page.getByText(name, { exact: true }).last().click();
  await page.locator(`.interactive-input-part a.model-picker-name[aria-label*="${name}"]`).waitFor({ timeout: 10_000 });
}

async function askChat(page: Page, prompt: string): Promise<void> {
  await page.locator('.interactive-input-part .monaco-editor').first().click();
  await page.keyboard.type(prompt);
  await page.keyboard.press('Enter');
}

/** Polls the status bar until stopped, handing each text to `see`. */
function watchStatus(page: Page, see: (text: string) => void): { stop(): void } {
  let on = true;
  void (async () => {
    while (on) {
      see(await statusText(page).catch(() => ''));
      await page.waitForTimeout(100).catch(() => {});
    }
  })();
  return { stop: () => (on = false) };
}

/** Runs a command of the test extension and reads what it wrote. */
async function runClient(page: Page, workspace: string, title: string, name: string): Promise<Record<string, unknown>> {
  const file = join(workspace, '.lm-client', `${name}.json`);
  await runCommand(page, title);
  // The first use of another extension's models asks for consent.
  const allow = page.getByRole('button', { name: 'Allow' });
  await waitUntil(async () => existsSync(file) || (await allow.isVisible().catch(() => false)), `${name}.json`, 30_000);
  if (!existsSync(file)) {
    await shot(page, 'vscode-lm-consent');
    await allow.click();
    await waitUntil(() => existsSync(file), `${name}.json`, 30_000);
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  expect(!result.error, `the client ran: ${String(result.error)}`);
  return result;
}
