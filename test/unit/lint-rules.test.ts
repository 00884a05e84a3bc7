import { join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { expect, test } from 'vitest';
import { layers } from '../../eslint.config.mjs';

const root = join(__dirname, '..', '..');

/** Lints `code` as if it lived at `file`, with only the layer rule on (no type information needed). */
async function layerProblems(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { flowgate: layers },
        rules: { 'flowgate/imports': 'error' },
      },
    ],
  });
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).map((m) => m.message);
}

test.each([
  ['src/core/request/x.ts', "import * as vscode from 'vscode';"],
  ['src/cli/x.ts', "import { window } from 'vscode';"],
  ['src/webview/x.ts', "import type { Uri } from 'vscode';"],
  ['src/protocol.ts', "import { something } from './core';"],
  ['src/core/x.ts', "import { ChatController } from '../host/chat/chat-controller';"],
  ['src/core/flow/x.ts', "export { KeyStore } from '../../host/endpoints/key-store';"],
  ['src/core/x.ts', "const m = await import('../cli/main');"],
  ['src/webview/x.ts', "import { LlmClient } from '../core';"],
  ['src/webview/x.ts', "import { readFile } from 'node:fs/promises';"],
  ['src/cli/x.ts', "import { EngineHost } from '../host/endpoints/engine-host';"],
  ['src/host/x.ts', "import { render } from '../webview/markdown';"],
])('the layer rule refuses %s: %s', async (file, code) => {
  expect(await layerProblems(file, code)).toEqual([expect.stringMatching(/: the .*\.$/)]);
});

test.each([
  ['src/core/request/x.ts', "import { ConfigError } from '../errors';"],
  ['src/core/x.ts', "import { request } from 'undici'; import { readFile } from 'node:fs/promises';"],
  ['src/cli/x.ts', "import { LlmClient } from '../core';"],
  [
    'src/webview/x.ts',
    "import { isHostToWebview } from '../protocol'; import { render } from './markdown'; import DOMPurify from 'dompurify';",
  ],
  ['src/protocol.ts', "import type { Usage } from './core';"],
  [
    'src/host/chat/x.ts',
    "import * as vscode from 'vscode'; import type { HostToWebview } from '../../protocol'; import { LlmClient } from '../../core';",
  ],
])('the layer rule allows %s: %s', async (file, code) => {
  expect(await layerProblems(file, code)).toEqual([]);
});
