/**
 * Driving the Flowgate panel in a code-server workbench through playwright-core,
 * as a person would: shared by the E2E suite and the demo's smoke run.
 */
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import type { RecordedRequest } from '../server/llm-server';

/** Screenshots of every step, and of any failure. */
export const ARTIFACTS = join(__dirname, '..', '..', 'e2e-artifacts');

export function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected: ${what}`);
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** The status-bar items Flowgate shows. */
export async function statusText(page: Page): Promise<string> {
  return (await page.locator('.statusbar-item').allInnerTexts())
    .filter((t) => /sim-model|cloud-model|running|quota/.test(t))
    .join(' | ');
}

/**
 * The last user message of a chat request the test server recorded. VS Code's
 * chat wraps what the person typed in <userRequest> after its own context, so
 * from there it is the text inside.
 */
export function promptOf(request: RecordedRequest): string {
  const last = (request.body.messages as { content?: unknown }[] | undefined)?.at(-1)?.content;
  const text = typeof last === 'string' ? last : JSON.stringify(last ?? '');
  return /<userRequest>\s*([\s\S]*?)\s*<\/userRequest>/.exec(text)?.[1] ?? text;
}

/** Whether the request carries a tool's result as its last message: the turn after a tool ran. */
export const afterToolResult = (request: RecordedRequest): boolean =>
  (request.body.messages as { role?: string }[] | undefined)?.at(-1)?.role === 'tool';

/** The frame of the webview that holds `selector` (a webview is an iframe inside an iframe). */
export async function webviewWith(page: Page, selector: string, ms = 30_000): Promise<Frame> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no webview with ${selector}`);
}

/** Opens the Flowgate view from the activity bar and returns its chat panel. */
export async function openChatPanel(page: Page): Promise<Frame> {
  await page.locator('.activitybar [aria-label^="Flowgate"]').first().click();
  return webviewWith(page, 'textarea.prompt');
}

/** Types a prompt into the panel and sends it with Enter. */
export async function ask(chat: Frame, prompt: string): Promise<void> {
  await chat.waitForSelector('button.send:not([hidden])', { timeout: 15_000 });
  await chat.fill('textarea.prompt', prompt);
  await chat.press('textarea.prompt', 'Enter');
}

/** Runs a command from the palette by its title. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget', { state: 'visible' });
  await page.keyboard.type(title);
  await page.waitForTimeout(500);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(800);
}

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Types into the quick input once it shows (replacing what it holds, with `replace`), and accepts. */
export async function answerQuickInput(page: Page, text: string, replace = false): Promise<void> {
  await page.waitForSelector('.quick-input-widget .quick-input-box input', { state: 'visible', timeout: 10_000 });
  await page.waitForTimeout(300);
  if (replace) await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(500);
}

/** Chooses the row of the batch's confirm screen that holds `text`. */
export async function pickInConfirm(page: Page, text: string): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
  await row.waitFor({ timeout: 15_000 });
  await row.click();
}
