/**
 * A real redis-server for the tests (Debian's package; .ci/run installs it),
 * on a free loopback port, with nothing persisted. Each test file starts its
 * own and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';

export interface RunningRedis {
  url: string;
  port: number;
  /** Stops it as a crash would: SIGKILL, nothing flushed. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** `tls`: serves TLS only (rediss://), with this key and certificate. */
export async function startRedis(
  options: { password?: string; port?: number; tls?: { key: string; cert: string } } = {},
): Promise<RunningRedis> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  if (options.tls) {
    const dir = mkdtempSync(join(tmpdir(), 'flowgate-redis-tls-'));
    writeFileSync(join(dir, 'key.pem'), options.tls.key);
    writeFileSync(join(dir, 'cert.pem'), options.tls.cert);
    args.splice(0, 2, '--port', '0', '--tls-port', String(port));
    args.push('--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'));
    args.push('--tls-auth-clients', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`redis-server could not start (${error.message}); install it: apt-get install redis-server`)),
    );
  });
  await Promise.race([untilListening(port), failed]);
  const stopWith = (signal: NodeJS.Signals) => () => stopped(child, signal);
  const scheme = options.tls ? 'rediss' : 'redis';
  return { url: `${scheme}://127.0.0.1:${port}`, port, kill: stopWith('SIGKILL'), stop: stopWith('SIGTERM') };
}

async function stopped(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

async function untilListening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on port ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
