/**
 * One batch job worked on by several processes through a real redis-server
 * (`flowgate batch --redis URL --join NAME`): three processes killed and
 * started again at random still write every output exactly once, and one
 * report covers the whole job.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { JobQueue, LlmClient, connectRedisState } from '../../src/core';
import { runBatch, sharedJobIdOf } from '../../src/core/batch';
import { startRedis, type RunningRedis } from '../server/redis';
import { runCli, startCli, type CliProcess } from './cli-process';
import { rejection, useServer } from './helpers';

const { server } = useServer();
const FILES = 60;
let redis: RunningRedis;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowgate-joined-'));
  mkdirSync(join(dir, 'in'));
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'in', `f${String(i).padStart(2, '0')}.txt`), `file ${i}`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function worker(name: string | undefined, redisUrl = redis.url, prompt = 'Summarise {{path}}'): CliProcess {
  const args = ['batch', '--provider', 'openai', '--base-url', `${server().origin}/v1`, '--model', 'm'];
  args.push('--prompt', prompt, '--out', 'out', '--concurrency', '2');
  if (name) args.push('--redis', redisUrl, '--join', name, '--lease-ms', '1000');
  return startCli([...args, 'in'], { cwd: dir, env: { OPENAI_API_KEY: 'sk-joined' } });
}

describe('a batch job shared by processes', () => {
  test('three processes, killed and started again at random: every output written once, one report', async () => {
    server().respond((request) => ({
      tokens: ['About ', /in\/f\d+\.txt/.exec(JSON.stringify(request.body))![0]],
      firstTokenDelayMs: 150,
    }));
    const name = `job-${Math.random().toString(36).slice(2)}`;
    const workers = [worker(name), worker(name), worker(name)];
    let random = 12345;
    const next = (): number => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Kill one at random every 300 ms, six times, and start another in its place.
    for (let round = 0; round < 6; round++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const victim = Math.floor(next() * workers.length);
      workers[victim]!.child.kill('SIGKILL');
      await workers[victim]!.done;
      workers[victim] = worker(name);
    }
    const codes = (await Promise.all(workers.map((w) => w.done))).map((r) => r.code);
    expect(codes).toEqual([0, 0, 0]);
    // Killed workers had items in flight: those were leased again and asked again, so the guarantee was tested.
    expect(server().requests.length).toBeGreaterThan(FILES);
    const journal = readdirSync(join(dir, 'out')).find((f) => f.endsWith('.jsonl'))!;
    const oks = readFileSync(join(dir, 'out', journal), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { input: string; status: string })
      .filter((r) => r.status === 'ok')
      .map((r) => r.input);
    // Each input committed and written by exactly one process.
    expect(oks.length).toBe(FILES);
    expect(new Set(oks).size).toBe(FILES);
    for (let i = 0; i < FILES; i++) {
      const input = `in/f${String(i).padStart(2, '0')}.txt`;
      expect(readFileSync(join(dir, 'out', `${input}.md`), 'utf8')).toBe(`About ${input}`);
    }
    const report = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as {
      items: { input: string }[];
      summary: { ok: number; total: number };
    };
    expect(report.summary).toMatchObject({ ok: FILES, total: FILES });
    expect(new Set(report.items.map((i) => i.input)).size).toBe(FILES);
  }, 60_000);

  test('Redis lost mid-job: each process says so and stops; what it wrote stays, and a run without --join finishes the job', async () => {
    server().respond((request) => ({
      tokens: ['About ', /in\/f\d+\.txt/.exec(JSON.stringify(request.body))![0]],
      firstTokenDelayMs: 150,
    }));
    const doomed = await startRedis();
    const workers = [worker('doomed-job', doomed.url), worker('doomed-job', doomed.url)];
    const journal = (): string[] => {
      const name = existsSync(join(dir, 'out')) && readdirSync(join(dir, 'out')).find((f) => f.endsWith('.jsonl'));
      return name
        ? readFileSync(join(dir, 'out', name), 'utf8')
            .split('\n')
            .filter(Boolean)
        : [];
    };
    while (journal().length < 10) await new Promise((resolve) => setTimeout(resolve, 50));
    await doomed.kill();
    for (const w of workers) {
      expect((await w.done).code).toBe(1);
      expect(w.stderr()).toMatch(
        /Lost the shared batch queue at redis:\/\/127\.0\.0\.1:\d+ \(.*\)\. Every answer written so far stays/,
      );
    }
    const written = journal().length;
    const alone = worker(undefined);
    expect((await alone.done).code).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as {
      summary: { ok: number; resumed: number };
    };
    expect(report.summary.ok).toBe(FILES);
    expect(report.summary.resumed).toBeGreaterThanOrEqual(written - 4); // those in flight at the kill may be asked again
    for (let i = 0; i < FILES; i++) {
      const input = `in/f${String(i).padStart(2, '0')}.txt`;
      expect(readFileSync(join(dir, 'out', `${input}.md`), 'utf8')).toBe(`About ${input}`);
    }
  }, 60_000);

  test('Redis lost while answers are on their way: the process stops them at once, since they could not be committed', async () => {
    server().respond({ tokens: ['late'], firstTokenDelayMs: 10_000 });
    const doomed = await startRedis();
    const alone = worker('stopped-job', doomed.url);
    while (server().requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    const disconnected = server().waitForDisconnect();
    const killedAt = performance.now();
    await doomed.kill();
    expect((await alone.done).code).toBe(1);
    await disconnected;
    expect(performance.now() - killedAt).toBeLessThan(5_000);
    expect(alone.stderr()).toMatch(/Lost the shared batch queue at redis:\/\/127\.0\.0\.1:\d+/);
  }, 30_000);

  test('a shared run cancelled before it starts sends nothing', async () => {
    server().respond({ tokens: ['never'] });
    const state = await connectRedisState(redis.url);
    try {
      const job = {
        inputs: ['in'],
        cwd: dir,
        outDir: join(dir, 'out'),
        template: 'Summarise {{path}}',
        endpoint: { provider: 'openai' as const, baseUrl: `${server().origin}/v1`, model: 'm', apiKey: 'sk-joined' },
      };
      const sending = { redact: false, allowSecrets: false, allowBinary: false };
      const queue = await JobQueue.open(state, 'cancelled-early', sharedJobIdOf(job, sending));
      const client = new LlmClient({ sharedState: state });
      try {
        await rejection(runBatch(client, { ...job, queue, signal: AbortSignal.abort() }));
      } finally {
        await queue.close();
        await client.close();
      }
      expect(server().requests).toHaveLength(0);
    } finally {
      await state.close();
    }
  });

  test('joining again retries the failures, and only them; the report then covers the whole job', async () => {
    const failing = /in\/f(03|17|42)\.txt/;
    let broken = true;
    server().respond((request) => {
      const input = /in\/f\d+\.txt/.exec(JSON.stringify(request.body))![0];
      if (broken && failing.test(input)) return { status: 400, error: { message: `cannot read ${input}` } };
      return { tokens: ['About ', input], firstTokenDelayMs: 20 };
    });
    const name = `retry-${Math.random().toString(36).slice(2)}`;
    const first = [worker(name), worker(name)];
    expect((await Promise.all(first.map((w) => w.done))).map((r) => r.code)).toEqual([1, 1]); // some items failed
    const report = (): { summary: { ok: number; failed: number } } =>
      JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as { summary: { ok: number; failed: number } };
    expect(report().summary).toMatchObject({ ok: FILES - 3, failed: 3 });
    broken = false;
    const asked = server().requests.length;
    const again = worker(name);
    expect((await again.done).code).toBe(0);
    expect(again.stderr()).toContain('3 failed item(s) of the shared job are queued again.');
    const retried = server()
      .requests.slice(asked)
      .map((r) => /in\/f\d+\.txt/.exec(JSON.stringify(r.body))![0]);
    expect(retried.sort()).toEqual(['in/f03.txt', 'in/f17.txt', 'in/f42.txt']);
    expect(report().summary).toMatchObject({ ok: FILES, failed: 0 });
    expect(readFileSync(join(dir, 'out', 'in/f17.txt.md'), 'utf8')).toBe('About in/f17.txt');
  }, 30_000);

  test('a second job under a name already taken is refused before anything is sent', async () => {
    server().respond(() => ({ tokens: ['ok'], firstTokenDelayMs: 100 }));
    const name = `taken-${Math.random().toString(36).slice(2)}`;
    const first = worker(name);
    expect((await first.done).code).toBe(0);
    // The job, and with it the name, is kept for 30 days after its last worker.
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys(`flowgate:v1:*${name}*`);
      expect(keys.length).toBeGreaterThanOrEqual(4);
      for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(29 * 24 * 3_600_000);
    } finally {
      client.disconnect();
    }
    const asked = server().requests.length;
    const other = worker(name, redis.url, 'Translate {{path}}');
    expect((await other.done).code).toBe(2);
    expect(other.stderr()).toMatch(
      new RegExp(`The shared batch "${name}" at redis://127\\.0\\.0\\.1:\\d+ is another job: .* choose another name`),
    );
    expect(server().requests.length).toBe(asked);
  }, 30_000);

  test('--join without --redis is a usage error', async () => {
    const batch = ['batch', '--provider', 'ollama', '--base-url', server().origin, '--model', 'm'];
    const { code, stderr } = await runCli([...batch, '--prompt', 'x', '--out', 'o', '--join', 'j', 'in'], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--join needs --redis URL/);
  });
});
