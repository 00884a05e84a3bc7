/**
 * The E2E step for a team sharing one quota through Redis: the window joins
 * a shared batch from the confirm screen, a `flowgate` CLI process joins it
 * with the command the window copies, and together they write every file
 * exactly once; Show Metrics then says the limits are shared by both.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TestLlmServer } from '../server/llm-server';
import { startRedis } from '../server/redis';
import {
  answerQuickInput,
  ask,
  expect,
  openChatPanel,
  pickInConfirm,
  runCommand,
  shot,
  statusText,
  waitUntil,
  webviewWith,
} from './workbench';

const ROOT = join(__dirname, '..', '..');
const FILES = 24;
/** The prompt the step's files are asked with; run.ts answers it with the file's path, slowly. */
export const SHARED_PROMPT = 'Shared review {{path}}';

export function sharedSteps(
  page: Page,
  llm: TestLlmServer,
  workspace: string,
  settingsFile: string,
): [string, () => Promise<void>][] {
  return [
    [
      'a batch shared through Redis: the window and a CLI process take files from one queue, each written once',
      async () => {
        const redis = await startRedis();
        try {
          mkdirSync(join(workspace, 'shared'), { recursive: true });
          const inputs = Array.from({ length: FILES }, (_, i) => `shared/f${String(i).padStart(2, '0')}.txt`);
          for (const input of inputs) writeFileSync(join(workspace, input), `${input}\n`);
          await setInSettingsEditor(page, 'flowgate.sharedState.redisUrl', redis.url);
          await waitUntil(
            () => readFileSync(settingsFile, 'utf8').includes(redis.url),
            'the setting saved by the Settings editor',
          );
          const askedBefore = sharedAsks(llm);

          await runCommand(page, 'Flowgate: Run Prompt on Selected Files');
          await page.keyboard.press('Control+A');
          await page.keyboard.type('shared/*.txt');
          await page.keyboard.press('Enter');
          await answerQuickInput(page, 'Type a prompt');
          await answerQuickInput(page, SHARED_PROMPT);
          // The keyless endpoint: the CLI's budget then has the same key fingerprint as the window's, as a
          // teammate's would with the team's key (earlier steps keep a key for the other endpoints).
          await pickInConfirm(page, 'Endpoint');
          await answerQuickInput(page, 'sim');
          // Two at a time in the window, so that the CLI process finds work left when it joins.
          await pickInConfirm(page, 'Concurrency');
          await answerQuickInput(page, '2', true);
          await pickInConfirm(page, 'This window alone');
          await answerQuickInput(page, 'e2e-team', true);
          const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Shared: every process' });
          await row.waitFor({ timeout: 15_000 });
          const results = await page
            .locator('.quick-input-list .monaco-list-row', { hasText: 'Results' })
            .first()
            .textContent();
          expect(/flowgate-output/.test(results ?? ''), `a shared batch writes into a results folder: ${results}`);
          await shot(page, 'batch-shared-confirm');
          await pickInConfirm(page, 'Run');

          // The window offers the command for other machines; the CLI runs it as copied, from the same folder.
          await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
          const copy = page.locator('.notifications-toasts .monaco-button', {
            hasText: 'Copy Command for Other Machines',
          });
          await copy.waitFor({ timeout: 15_000 });
          await page
            .locator('.notifications-toasts', { hasText: /\d+ of 24 done by every process, \d+ here/ })
            .waitFor({ timeout: 15_000 });
          await shot(page, 'batch-shared-running');
          await copy.click();
          let command = '';
          await waitUntil(async () => {
            command = await page.evaluate(() => navigator.clipboard.readText()).catch(() => '');
            return command.startsWith('flowgate batch');
          }, 'the command on the clipboard');
          expect(command.includes(`--redis ${redis.url} --join e2e-team`), `the command joins the queue: ${command}`);
          const cli = runFlowgate(command, workspace);

          const outputs = inputs.map((input) => join(workspace, 'flowgate-output', `${input}.md`));
          await waitUntil(() => outputs.every((f) => existsSync(f)), 'every shared output', 60_000);
          const { code, stderr } = await cli;
          expect(code === 0, `the CLI process finished the job with the window: exit ${code}\n${stderr}`);
          const byCli = stderr.split('\n').filter((line) => /^ok\s+shared\/f\d+\.txt\s+\(\d+ ms\)/.test(line)).length;
          const asked = sharedAsks(llm) - askedBefore;
          expect(asked === FILES, `each file asked once between both: ${asked} requests for ${FILES} files`);
          expect(
            byCli > 0 && byCli < FILES,
            `both did part of the work: the CLI ${byCli}, the window ${FILES - byCli}`,
          );
          for (const [i, output] of outputs.entries())
            expect(readFileSync(output, 'utf8') === `Reviewed ${inputs[i]}`, `${inputs[i]} holds its own answer`);
          const journal = readdirSync(join(workspace, 'flowgate-output')).find((f) => f.endsWith('.jsonl'))!;
          const oks = readFileSync(join(workspace, 'flowgate-output', journal), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { input: string; status: string })
            .filter((r) => r.status === 'ok');
          expect(oks.length === FILES, `every file recorded once in the one journal: ${oks.length}`);
          await waitUntil(
            () => existsSync(join(workspace, 'flowgate-output', 'report.md')),
            "the window's report",
            20_000,
          );
          const report = readFileSync(join(workspace, 'flowgate-output', 'report.md'), 'utf8');
          expect(
            report.includes(`| Files | ${FILES} |`) && report.includes(`| OK | ${FILES} (`),
            `the window's report covers the whole job: ${report.slice(0, 300)}`,
          );

          await runCommand(page, 'Flowgate: Show Metrics');
          const shared = `shared through ${redis.url} by 2 Flowgate process(es)`;
          await waitUntil(async () => (await framesText(page)).includes(shared), `Show Metrics to say "${shared}"`);
          for (const frame of page.frames()) await frame.evaluate(() => window.scrollTo(0, 1e6)).catch(() => {});
          await shot(page, 'metrics-shared');

          // Redis dies: the next request goes on at the window's share of the limits, and the status bar says so.
          await redis.kill();
          // The panel may be open already (earlier steps): clicking its icon again would close it.
          const chat = await webviewWith(page, 'textarea.prompt', 2_000).catch(() => openChatPanel(page));
          const before = llm.requests.length;
          await ask(chat, 'a question while Redis is down');
          await waitUntil(() => llm.requests.length > before, 'the request to go on without Redis');
          await waitUntil(
            async () => (await statusText(page)).includes('Redis unavailable'),
            'the status bar to say Redis is unavailable',
          );
          await shot(page, 'status-redis-unavailable');
        } finally {
          await setInSettingsEditor(page, 'flowgate.sharedState.redisUrl', '').catch(() => {});
          await redis.stop();
        }
      },
    ],
  ];
}

/** Sets a text setting as a person would: in the Settings editor, found by its id. */
async function setInSettingsEditor(page: Page, id: string, value: string): Promise<void> {
  await runCommand(page, 'Preferences: Open User Settings');
  await page.waitForSelector('.settings-editor', { timeout: 15_000 });
  await page.keyboard.type(id);
  await page.waitForSelector('.settings-editor :text("1 Setting Found")', { timeout: 15_000 });
  const input = page.locator('.settings-editor .setting-item-contents .monaco-inputbox input:visible').first();
  await input.waitFor({ timeout: 15_000 });
  await input.fill(value);
  await input.press('Enter');
  await page.waitForTimeout(1000);
  // The Settings editor opens as a modal over the workbench: Escape closes it.
  await page.keyboard.press('Escape');
  await page.waitForSelector('.settings-editor', { state: 'hidden', timeout: 5_000 }).catch(async () => {
    await page.keyboard.press('Escape');
    await page.waitForSelector('.settings-editor', { state: 'hidden', timeout: 5_000 });
  });
}

/** Requests the test server got for the step's prompt. */
function sharedAsks(llm: TestLlmServer): number {
  return llm.requests.filter((r) => JSON.stringify(r.body).includes('Shared review')).length;
}

/** Runs a copied `flowgate …` command line in a shell, with `flowgate` the CLI this checkout built. */
function runFlowgate(command: string, cwd: string): Promise<{ code: number | null; stderr: string }> {
  const cli = join(ROOT, 'dist', 'cli.js');
  expect(existsSync(cli), `the CLI is built: ${cli}`);
  const child = spawn('sh', ['-c', `flowgate() { "${process.execPath}" "${cli}" "$@"; }\n${command}`], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/** The text of every frame: the markdown preview is a webview inside the workbench. */
async function framesText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) => frame.evaluate(() => document.body?.innerText ?? '').catch(() => '')),
  );
  return texts.join('\n');
}
