/**
 * Runs inside VS Code's extension host. A small runner of its own (each test
 * an async function, the first failure fails the run) keeps the suite free of
 * a test framework that would have to be bundled into VS Code.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { FlowgateApi } from '../../../src/extension';
import { TestLlmServer } from '../../server/llm-server';

const tests: [string, () => Promise<void>][] = [];
const test = (name: string, run: () => Promise<void>): void => void tests.push([name, run]);

async function api(): Promise<FlowgateApi> {
  const extension = vscode.extensions.getExtension<FlowgateApi>('flowgate.flowgate');
  assert.ok(extension, 'the extension is installed');
  return extension.activate();
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('activates and registers every command', async () => {
  await api();
  const commands = await vscode.commands.getCommands(true);
  for (const id of [
    'openPanel',
    'ask',
    'stop',
    'newChat',
    'selectEndpoint',
    'setApiKey',
    'clearApiKey',
    'showMetrics',
    'showLog',
  ]) {
    assert.ok(commands.includes(`flowgate.${id}`), `flowgate.${id} is registered`);
  }
});

test('a chat request to the test server streams, and the status bar changes', async () => {
  const server = await TestLlmServer.start();
  try {
    server.respond({ tokens: ['Hello ', 'from ', 'the test server'], tokenDelayMs: 20 });
    const config = vscode.workspace.getConfiguration('flowgate');
    await config.update(
      'endpoints',
      [{ id: 'test', provider: 'ollama', baseUrl: server.origin, model: 'test-model' }],
      vscode.ConfigurationTarget.Global,
    );
    await config.update('activeEndpoint', 'test', vscode.ConfigurationTarget.Global);
    const flowgate = await api();
    const before = flowgate.statusText();
    await vscode.commands.executeCommand('flowgate.openPanel');
    await flowgate.chat.send('hi', 'none');
    assert.equal(server.requests.length, 1);
    await until(() => flowgate.statusText() !== before && /ms/.test(flowgate.statusText()));
    assert.match(flowgate.statusText(), /test-model/);
  } finally {
    await server.close();
  }
});

test('Stop cancels the request and the server sees the socket close', async () => {
  const server = await TestLlmServer.start();
  try {
    server.respond({ tokens: ['one', 'two'], stallAfter: 1 });
    await vscode.workspace
      .getConfiguration('flowgate')
      .update(
        'endpoints',
        [{ id: 'test', provider: 'ollama', baseUrl: server.origin, model: 'test-model' }],
        vscode.ConfigurationTarget.Global,
      );
    const flowgate = await api();
    const disconnected = server.waitForDisconnect();
    const sending = flowgate.chat.send('hi', 'none');
    await until(() => server.requests.length === 1);
    await vscode.commands.executeCommand('flowgate.stop');
    await sending;
    await disconnected;
  } finally {
    await server.close();
  }
});

test('Show Metrics and Show Log open without error', async () => {
  await vscode.commands.executeCommand('flowgate.showMetrics');
  await vscode.commands.executeCommand('flowgate.showLog');
});

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, body] of tests) {
    try {
      await body();
      console.log(`  ok  ${name}`);
    } catch (error) {
      console.error(`  FAIL ${name}\n${(error as Error).stack}`);
      failures.push(name);
    }
  }
  console.log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length) throw new Error(`${failures.length} integration test(s) failed`);
}
