import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, expect, test } from 'vitest';

// Which folder may import what (no vscode in the engine, the CLI or the webview) is the
// linter's rule `flowgate/imports` in eslint.config.mjs; lint-rules.test.ts proves it fires.

const root = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'flowgate-boundaries-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('loading and using the engine leaves process-wide state alone', async () => {
  const bundle = join(scratch, 'engine.js');
  await build({
    entryPoints: [join(root, 'src/core/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'silent',
  });
  const probe = `
    const slots = () => [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')].map((s) => globalThis[s]);
    // Descriptors, not values: reading globalThis.fetch makes Node load its own undici, which fills the slots.
    const web = () => ['fetch', 'Headers', 'WebSocket'].map((name) => Object.getOwnPropertyDescriptor(globalThis, name)).map((d) => d && (d.get || d.value));
    const before = { slots: slots(), web: web() };
    const engine = require(${JSON.stringify(bundle)});
    const client = new engine.LlmClient();
    const http = require('node:http');
    const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/x-ndjson' }); res.end('{"message":{"content":"ok"},"done":true}\\n'); });
    server.listen(0, '127.0.0.1', async () => {
      const baseUrl = 'http://127.0.0.1:' + server.address().port;
      const answer = await client.complete({ messages: [{ role: 'user', content: 'x' }] }, { endpoint: { provider: 'ollama', baseUrl, model: 'm' }, stream: true });
      await client.close();
      server.close();
      const after = { slots: slots(), web: web() };
      console.log(JSON.stringify({
        answer: answer.text,
        slotsUnset: after.slots.every((s) => s === undefined),
        slotsUnchanged: after.slots.every((s, i) => s === before.slots[i]),
        webGlobalsUnchanged: after.web.every((value, i) => value === before.web[i]),
      }));
    });
  `;
  const output = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
  expect(output).toEqual({ answer: 'ok', slotsUnset: true, slotsUnchanged: true, webGlobalsUnchanged: true });
});
