/**
 * Runs the integration suite inside a real VS Code (downloaded by
 * @vscode/test-electron, so it needs a network that reaches VS Code's
 * download servers). `npm run test:integration`.
 */
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = join(__dirname, '..', '..');
  try {
    await runTests({
      version: process.env.VSCODE_VERSION ?? 'stable',
      extensionDevelopmentPath: root,
      extensionTestsPath: join(__dirname, 'suite.js'),
      launchArgs: [join(root, 'test', 'integration', 'workspace'), '--disable-extensions', '--disable-workspace-trust'],
    });
  } catch (error) {
    console.error('Integration tests failed:', error);
    process.exit(1);
  }
}

void main();
