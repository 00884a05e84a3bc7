/**
 * The built CLI (`node esbuild.js` first) in a process of its own, as a
 * person or a script runs it: its exit code and what it wrote. Asynchronous
 * on purpose: the test server shares the test's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

export interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliOutcome>;
  /** What it has written to stderr so far. */
  stderr: () => string;
}

export interface CliOptions {
  cwd?: string;
  /** On top of PATH, which is all the CLI gets from this process's environment. */
  env?: Record<string, string>;
  /** Written to its stdin, which is then closed. */
  input?: string;
  onStdout?: (text: string, child: ChildProcess) => void;
}

export function startCli(args: string[], options: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onStdout?.(stdout, child);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => {}); // a CLI that exits without reading its input
  child.stdin.end(options.input ?? '');
  const done = new Promise<CliOutcome>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

export const runCli = (args: string[], options: CliOptions = {}): Promise<CliOutcome> => startCli(args, options).done;
