import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The CLI tests run the bundled dist/cli.js, so build it once before any test. */
export default function setup(): void {
  execFileSync(process.execPath, [join(__dirname, '..', 'esbuild.js')], { stdio: 'inherit' });
}
