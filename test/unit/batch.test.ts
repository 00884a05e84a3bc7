import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LlmClient } from '../../src/core';
import { ConfigError } from '../../src/core';
import {
  BatchLockedError,
  LOCK_NAME,
  UnsafePathError,
  contained,
  estimateBatch,
  jobIdOf,
  mirrorTarget,
  renderPrompt,
  runBatch,
  writeReport,
  type BatchJob,
} from '../../src/core/batch';
import { startCli } from './cli-process';
import { rejection, useServer, waitFor } from './helpers';

const { server } = useServer();
let dir: string;
let client: LlmClient;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowgate-batch-'));
  client = new LlmClient({ retry: { maxAttempts: 1 } });
});
afterEach(async () => {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function files(tree: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(tree)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

function job(overrides: Partial<BatchJob> = {}): BatchJob {
  return {
    inputs: ['.'],
    cwd: dir,
    outDir: join(dir, 'out'),
    template: 'Summarise {{path}} ({{language}}).',
    endpoint: { provider: 'ollama', baseUrl: server().origin, model: 'm' },
    concurrency: 3,
    ...overrides,
  };
}

const promptOf = (request: { body: Record<string, unknown> }) =>
  ((request.body.messages as { content: string }[]).at(-1) as { content: string }).content;

describe('runBatch', () => {
  test('one output per file, mirrored; skips reported, not sent; .gitignore honoured', async () => {
    files({
      'src/a.ts': 'const a = 1;',
      'src/deep/b.py': 'print(1)',
      '.env': 'KEY=secret',
      'keys/id_rsa': 'PRIVATE',
      'img.bin': Buffer.from([1, 0, 2]),
      'big.txt': 'x'.repeat(300_000),
      'build/gen.js': 'x',
      '.gitignore': 'build/\n',
    });
    server().respond({ tokens: ['sum', 'mary'], usage: { input: 7, output: 2 } });
    const report = await runBatch(client, job());
    const byInput = Object.fromEntries(report.items.map((i) => [i.input, i]));
    expect(Object.keys(byInput).sort()).toEqual([
      '.env',
      '.gitignore',
      'big.txt',
      'img.bin',
      'keys/id_rsa',
      'src/a.ts',
      'src/deep/b.py',
    ]);
    expect(byInput['src/a.ts']).toMatchObject({
      status: 'ok',
      output: 'src/a.ts.md',
      attempts: 1,
      inputTokens: 7,
      outputTokens: 2,
    });
    expect(readFileSync(join(dir, 'out/src/deep/b.py.md'), 'utf8')).toBe('summary');
    expect(byInput['.env']).toMatchObject({ status: 'skipped', error: expect.stringMatching(/looks like a secret/) });
    expect(byInput['keys/id_rsa']?.status).toBe('skipped');
    expect(byInput['img.bin']).toMatchObject({ status: 'skipped', error: expect.stringMatching(/binary/) });
    expect(byInput['big.txt']).toMatchObject({ status: 'skipped', error: expect.stringMatching(/larger than/) });
    const sent = server().requests.map(promptOf);
    expect(sent).toHaveLength(3);
    expect(sent.some((p) => p.includes('KEY=secret') || p.includes('PRIVATE'))).toBe(false);
    expect(sent.find((p) => p.startsWith('Summarise src/a.ts (typescript).'))).toContain('const a = 1;');
    expect(report.summary).toMatchObject({
      ok: 3,
      failed: 0,
      skipped: 4,
      resumed: 0,
      inputTokens: 21,
      outputTokens: 6,
      cancelled: false,
    });
  });

  test('one file failing never stops the others', async () => {
    files({ 'a.txt': 'fine', 'b.txt': 'FAIL here', 'c.txt': 'fine too' });
    server().respond((request) =>
      promptOf(request).includes('FAIL') ? { status: 400, error: { message: 'bad input' } } : { tokens: ['ok'] },
    );
    const report = await runBatch(client, job());
    expect(report.summary).toMatchObject({ ok: 2, failed: 1 });
    expect(report.items.find((i) => i.input === 'b.txt')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: expect.stringMatching(/answered 400.*bad input/),
    });
    expect(existsSync(join(dir, 'out/b.txt.md'))).toBe(false);
  });

  test('a missing input is a failed item; the run goes on', async () => {
    files({ 'a.txt': 'one', 'c.txt': 'three' });
    const report = await runBatch(client, job({ inputs: ['a.txt', 'gone.txt', 'c.txt'] }));
    expect(report.items.map((i) => [i.input, i.status]).sort()).toEqual([
      ['a.txt', 'ok'],
      ['c.txt', 'ok'],
      ['gone.txt', 'failed'],
    ]);
    expect(report.items.find((i) => i.input === 'gone.txt')).toMatchObject({
      attempts: 0,
      error: 'no such file or folder; check the path',
    });
    expect(report.summary).toMatchObject({ ok: 2, failed: 1, total: 3 });
    expect(server().requests).toHaveLength(2);
  });

  test('links are skipped with the reason, named or found in a folder, and never followed', async () => {
    files({ 'src/a.txt': 'one', 'real.txt': 'secret elsewhere' });
    symlinkSync(join(dir, 'real.txt'), join(dir, 'named-link.txt'));
    symlinkSync(join(dir, 'real.txt'), join(dir, 'src', 'inner-link.txt'));
    const report = await runBatch(client, job({ inputs: ['named-link.txt', 'src'] }));
    const byInput = Object.fromEntries(report.items.map((i) => [i.input, i]));
    expect(Object.keys(byInput).sort()).toEqual(['named-link.txt', 'src/a.txt', 'src/inner-link.txt']);
    expect(byInput['named-link.txt']).toEqual({
      input: 'named-link.txt',
      status: 'skipped',
      attempts: 0,
      error: 'is a symbolic link; Flowgate does not follow links: name the file it points to instead',
    });
    expect(byInput['src/inner-link.txt']).toEqual({
      input: 'src/inner-link.txt',
      status: 'skipped',
      attempts: 0,
      error: 'is a symbolic link; links inside folders are not followed',
    });
    expect(byInput['src/a.txt']?.status).toBe('ok');
    expect(server().requests.map(promptOf)).toEqual([expect.stringContaining('src/a.txt')]);
  });

  test('a rerun of the same job requests nothing already done, and retries what failed', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'FAIL', 'c.txt': 'three' });
    server().respond((request) => (promptOf(request).includes('FAIL') ? { status: 500 } : { tokens: ['ok'] }));
    await runBatch(client, job());
    expect(server().requests).toHaveLength(3);
    server().reset();
    server().respond({ tokens: ['fixed'] });
    const again = await runBatch(client, job());
    expect(server().requests.map(promptOf)).toEqual([expect.stringContaining('FAIL')]);
    expect(again.summary).toMatchObject({ ok: 3, resumed: 2, failed: 0 });
    expect(readFileSync(join(dir, 'out/b.txt.md'), 'utf8')).toBe('fixed');
  });

  test('a rerun re-does an item whose output was deleted, and only that one', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two', 'c.txt': 'three' });
    await runBatch(client, job());
    rmSync(join(dir, 'out/b.txt.md'));
    server().reset();
    server().respond({ tokens: ['again'] });
    const again = await runBatch(client, job());
    expect(server().requests.map(promptOf)).toEqual([expect.stringContaining('b.txt')]);
    expect(readFileSync(join(dir, 'out/b.txt.md'), 'utf8')).toBe('again');
    const byInput = Object.fromEntries(again.items.map((i) => [i.input, i]));
    expect(byInput['b.txt']).toMatchObject({ status: 'ok', rerun: 'output missing' });
    expect(byInput['a.txt']).toMatchObject({ status: 'ok', resumed: true });
    expect(byInput['a.txt']?.ms).toBeUndefined();
    expect(again.summary).toMatchObject({ ok: 3, resumed: 2, rerun: 1 });
  });

  test('a rerun re-asks an input whose content changed, and only that one', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two', 'c.txt': 'three' });
    await runBatch(client, job({ template: 'Say {{content}}' }));
    writeFileSync(join(dir, 'b.txt'), 'two, edited');
    server().reset();
    const again = await runBatch(client, job({ template: 'Say {{content}}' }));
    expect(server().requests.map(promptOf)).toEqual(['Say two, edited']);
    expect(again.items.find((i) => i.input === 'b.txt')).toMatchObject({
      status: 'ok',
      rerun: 'input changed',
      promptSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(again.summary).toMatchObject({ ok: 3, resumed: 2, rerun: 1 });
    server().reset();
    const third = await runBatch(client, job({ template: 'Say {{content}}' }));
    expect(server().requests).toHaveLength(0);
    expect(third.summary).toMatchObject({ ok: 3, resumed: 3, rerun: 0 });
  });

  test('a journal line from before prompts were hashed is trusted while its output is there', async () => {
    files({ 'a.txt': 'one' });
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out/a.txt.md'), 'earlier answer');
    writeFileSync(
      join(dir, 'out', `.flowgate-batch-${jobIdOf(job())}.jsonl`),
      `${JSON.stringify({ input: 'a.txt', output: 'a.txt.md', status: 'ok', attempts: 1, ms: 5 })}\n`,
    );
    const report = await runBatch(client, job());
    expect(server().requests).toHaveLength(0);
    expect(report.summary).toMatchObject({ ok: 1, resumed: 1 });
  });

  test('a changed prompt is a new job: everything runs again', async () => {
    files({ 'a.txt': 'one' });
    await runBatch(client, job());
    await runBatch(client, job({ template: 'Translate {{content}}' }));
    expect(server().requests).toHaveLength(2);
    expect(promptOf(server().requests[1]!)).toBe('Translate one');
  });

  test('cancel stops new work and aborts what is in flight; the rest resumes later with nothing lost', async () => {
    files(
      Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `file ${i}`])),
    );
    server().respond({ tokens: ['a', 'b'], tokenDelayMs: 60 });
    const controller = new AbortController();
    const first = await runBatch(
      client,
      job({ signal: controller.signal, onProgress: (p) => p.done >= 4 && controller.abort() }),
    );
    expect(first.summary.cancelled).toBe(true);
    const doneFirst = first.items.filter((i) => i.status === 'ok').map((i) => i.input);
    expect(doneFirst.length).toBeGreaterThanOrEqual(4);
    expect(doneFirst.length).toBeLessThan(12);
    const sentFirst = server().requests.length;
    server().reset();
    server().respond({ tokens: ['a', 'b'] });
    const second = await runBatch(client, job());
    const sentAgain = server().requests.map((r) => promptOf(r).match(/f\d\d\.txt/)![0]);
    expect(sentAgain.filter((f) => doneFirst.includes(f))).toEqual([]);
    expect(second.summary).toMatchObject({ ok: 12, failed: 0, resumed: doneFirst.length });
    expect(sentFirst + sentAgain.length).toBeLessThanOrEqual(12 + 3); // at most the in-flight ones were cut and asked again
    for (let i = 0; i < 12; i++) expect(existsSync(join(dir, `out/f${String(i).padStart(2, '0')}.txt.md`))).toBe(true);
  });

  test('the output folder inside an input folder is never read back as input', async () => {
    files({ 'a.txt': 'one' });
    await runBatch(client, job());
    await runBatch(client, job({ template: 'other prompt' }));
    expect(
      server()
        .requests.map(promptOf)
        .every((p) => p.includes('a.txt')),
    ).toBe(true);
  });
});

describe('an output folder that holds the inputs', () => {
  test.each([
    ['is the input folder', ['.'], '.', /is the input "\."/],
    ['is an ancestor of an input', ['src'], '.', /holds the input "src"/],
    ['holds a named input file', ['o/a.txt'], 'o', /holds the input "o\/a\.txt"/],
  ])('that %s is refused before anything is sent or written', async (_, inputs, out, message) => {
    files({ 'src/a.txt': 'one', 'o/a.txt': 'two' });
    const outDir = join(dir, out);
    const error = await rejection(runBatch(client, job({ inputs, outDir })));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/Choose an output folder outside the inputs/);
    await expect(estimateBatch(job({ inputs, outDir }))).rejects.toThrow(message);
    expect(server().requests).toHaveLength(0);
    expect(readdirSync(dir).sort()).toEqual(['o', 'src']);
    expect(readdirSync(join(dir, 'o'))).toEqual(['a.txt']);
  });

  test('an output folder inside an input folder is fine: it is left out of the walk', async () => {
    files({ 'a.txt': 'one' });
    const report = await runBatch(client, job({ inputs: ['.'], outDir: join(dir, 'out') }));
    expect(report.summary).toMatchObject({ ok: 1, total: 1 });
  });
});

describe('one run at a time per output folder', () => {
  const lockFile = () => join(dir, 'out', LOCK_NAME);
  const holder = (extra: Record<string, unknown>) =>
    JSON.stringify({ pid: 1, host: hostname(), started: '2025-01-01T00:00:00.000Z', token: 'abc', ...extra });

  test('a second run while the first is running is refused, naming it; each file is asked once', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two', 'c.txt': 'three' });
    server().respond({ tokens: ['a', 'b'], tokenDelayMs: 50 });
    const first = runBatch(client, job({ concurrency: 1 }));
    await waitFor(() => existsSync(lockFile()), 'the first run to take the lock');
    const error = await rejection(runBatch(client, job()));
    expect(error).toBeInstanceOf(BatchLockedError);
    expect(error.message).toMatch(
      new RegExp(
        `^Another Flowgate batch \\(process ${process.pid}, this same process, started [^)]+\\) is running on .*out; two runs at once would pay for the same files\\. Wait for it to finish or stop it, or choose another output folder\\.`,
      ),
    );
    expect((await first).summary).toMatchObject({ ok: 3 });
    expect(
      server()
        .requests.map(promptOf)
        .map((p) => p.match(/\w\.txt/)![0])
        .sort(),
    ).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(existsSync(lockFile())).toBe(false);
  });

  test('a lock left by a process that is gone is taken over, with a notice', async () => {
    files({ 'a.txt': 'one' });
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(join(dir, 'out'));
    writeFileSync(lockFile(), holder({ pid: gone }));
    const notices: string[] = [];
    const report = await runBatch(client, job({ onNotice: (text) => notices.push(text) }));
    expect(report.summary).toMatchObject({ ok: 1 });
    expect(notices).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Took over the lock in .*out left by process ${gone} \\(started 2025-01-01T00:00:00\\.000Z\\), which is no longer running\\.$`,
        ),
      ),
    ]);
    expect(existsSync(lockFile())).toBe(false);
  });

  test('two runs finding the same stale lock: one takes it over, the other is refused', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two' });
    server().respond({ tokens: ['a', 'b'], tokenDelayMs: 20 });
    mkdirSync(join(dir, 'out'));
    writeFileSync(lockFile(), holder({ pid: spawnSync(process.execPath, ['-e', '']).pid }));
    const [one, two] = await Promise.allSettled([runBatch(client, job()), runBatch(client, job())]);
    expect([one.status, two.status].sort()).toEqual(['fulfilled', 'rejected']);
    expect(((one.status === 'rejected' ? one : two) as PromiseRejectedResult).reason).toBeInstanceOf(BatchLockedError);
    expect(server().requests).toHaveLength(2);
  });

  test("another machine's lock, or a file that is not a lock, is refused and left alone", async () => {
    files({ 'a.txt': 'one' });
    mkdirSync(join(dir, 'out'));
    writeFileSync(lockFile(), holder({ host: 'build-box' }));
    await expect(runBatch(client, job())).rejects.toThrow(/Another Flowgate batch \(process 1 on build-box, started/);
    writeFileSync(lockFile(), 'not json');
    await expect(runBatch(client, job())).rejects.toThrow(
      /\.flowgate-batch\.lock is in the way but is not a Flowgate lock\. If no batch is running on .*out, delete it\./,
    );
    expect(readFileSync(lockFile(), 'utf8')).toBe('not json');
    expect(server().requests).toHaveLength(0);
  });

  test('the lock is let go when a run fails', async () => {
    files({ 'a.txt': 'one' });
    mkdirSync(join(dir, 'out'));
    symlinkSync(join(dir, 'a.txt'), join(dir, 'out', `.flowgate-batch-${jobIdOf(job())}.jsonl`));
    await expect(runBatch(client, job())).rejects.toThrow(UnsafePathError);
    expect(existsSync(lockFile())).toBe(false);
  });
});

describe('path safety', () => {
  test('a symbolic link planted in the output folder is not written through', async () => {
    files({ 'src/a.ts': 'x' });
    const elsewhere = mkdtempSync(join(tmpdir(), 'flowgate-elsewhere-'));
    try {
      mkdirSync(join(dir, 'out'), { recursive: true });
      symlinkSync(elsewhere, join(dir, 'out', 'src'));
      const report = await runBatch(client, job({ inputs: ['src'] }));
      expect(report.items[0]).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/not a folder|symbolic link/),
      });
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  describe('nothing the batch writes goes through a symbolic link', () => {
    let elsewhere: string;
    beforeEach(() => {
      elsewhere = mkdtempSync(join(tmpdir(), 'flowgate-elsewhere-'));
      writeFileSync(join(elsewhere, 'victim.txt'), 'untouched');
      mkdirSync(join(dir, 'out'), { recursive: true });
    });
    afterEach(() => rmSync(elsewhere, { recursive: true, force: true }));
    const victim = () => readFileSync(join(elsewhere, 'victim.txt'), 'utf8');

    test('a linked report.json is refused before anything is sent', async () => {
      files({ 'a.txt': 'one' });
      symlinkSync(join(elsewhere, 'victim.txt'), join(dir, 'out', 'report.json'));
      const error = await rejection(runBatch(client, job({ inputs: ['a.txt'] })));
      expect(error).toBeInstanceOf(UnsafePathError);
      expect(error.message).toMatch(
        /out\/report\.json is a symbolic link; Flowgate does not write through links\. Remove the link, or choose another output folder\./,
      );
      expect(server().requests).toHaveLength(0);
      expect(victim()).toBe('untouched');
    });

    test('a linked journal is refused before anything is sent, and never read', async () => {
      files({ 'a.txt': 'one' });
      symlinkSync(join(elsewhere, 'victim.txt'), join(dir, 'out', `.flowgate-batch-${jobIdOf(job())}.jsonl`));
      const error = await rejection(runBatch(client, job({ inputs: ['a.txt'] })));
      expect(error).toBeInstanceOf(UnsafePathError);
      expect(error.message).toMatch(/\.jsonl is a symbolic link/);
      expect(server().requests).toHaveLength(0);
      expect(victim()).toBe('untouched');
    });

    test('a linked output file fails its item without paying for it; the others go on', async () => {
      files({ 'a.txt': 'one', 'b.txt': 'two' });
      symlinkSync(join(elsewhere, 'victim.txt'), join(dir, 'out', 'a.txt.md'));
      const report = await runBatch(client, job({ inputs: ['a.txt', 'b.txt'] }));
      expect(report.items.find((i) => i.input === 'a.txt')).toMatchObject({
        status: 'failed',
        attempts: 0,
        error: expect.stringMatching(/a\.txt\.md is a symbolic link/),
      });
      expect(report.items.find((i) => i.input === 'b.txt')?.status).toBe('ok');
      expect(server().requests.map(promptOf)).toEqual([expect.stringContaining('b.txt')]);
      expect(victim()).toBe('untouched');
      expect(lstatSync(join(dir, 'out', 'a.txt.md')).isSymbolicLink()).toBe(true);
    });

    test('a linked lock file is refused, not followed', async () => {
      files({ 'a.txt': 'one' });
      symlinkSync(join(elsewhere, 'victim.txt'), join(dir, 'out', LOCK_NAME));
      await expect(runBatch(client, job())).rejects.toThrow(/\.flowgate-batch\.lock is a symbolic link/);
      expect(server().requests).toHaveLength(0);
      expect(victim()).toBe('untouched');
    });

    test('an output folder that is itself a link is refused', async () => {
      files({ 'a.txt': 'one' });
      symlinkSync(elsewhere, join(dir, 'linked-out'));
      const error = await rejection(runBatch(client, job({ inputs: ['a.txt'], outDir: join(dir, 'linked-out') })));
      expect(error).toBeInstanceOf(UnsafePathError);
      expect(server().requests).toHaveLength(0);
      expect(readdirSync(elsewhere)).toEqual(['victim.txt']);
    });

    test('a link planted at report.json after the run is refused by the write itself', async () => {
      symlinkSync(join(elsewhere, 'victim.txt'), join(dir, 'out', 'report.json'));
      const error = await rejection(writeReport(join(dir, 'out'), { items: [], summary: {} as never }));
      expect(error).toBeInstanceOf(UnsafePathError);
      expect(victim()).toBe('untouched');
    });
  });

  test('targets cannot leave the output folder', () => {
    expect(contained('/out', '../etc/passwd.md')).toEqual({ error: 'would be written outside /out' });
    expect(contained('/out', '/etc/passwd')).toMatchObject({ error: expect.any(String) });
    expect(contained('/out', 'src/a.ts.md')).toEqual({ path: '/out/src/a.ts.md', relative: 'src/a.ts.md' });
    expect(mirrorTarget('/elsewhere/a.ts', '/work', '/work/out')).toMatchObject({
      error: expect.stringMatching(/outside the working folder/),
    });
  });

  test('no temporary file is left behind', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two' });
    await runBatch(client, job());
    const left = readdirSync(join(dir, 'out'), { recursive: true })
      .map(String)
      .filter((f) => f.includes('.tmp'));
    expect(left).toEqual([]);
  });
});

describe('prompts and estimates', () => {
  test('{{content}}, {{path}}, {{language}}; content appended when the template has none', () => {
    expect(renderPrompt('Fix {{path}} in {{language}}:\n{{ content }}', { path: 'x.py', content: 'print(1)' })).toBe(
      'Fix x.py in python:\nprint(1)',
    );
    expect(renderPrompt('Explain', { path: 'a.go', content: 'package a' })).toBe(
      'Explain\n\na.go:\n```go\npackage a\n```',
    );
  });

  test('the dry run counts what would be sent and the time the limits imply, and sends nothing', async () => {
    files({ 'a.txt': 'one two three', 'b.txt': 'four', '.env': 'K=1' });
    const estimate = await estimateBatch(
      job({ maxTokens: 100, endpoint: { provider: 'ollama', baseUrl: server().origin, model: 'm', rpm: 60 } }),
    );
    expect(estimate).toMatchObject({ files: 3, toSend: 2, maxOutputTokens: 200, impliedMs: 2000 });
    expect(estimate.skipped).toEqual([{ input: '.env', reason: expect.stringMatching(/secret/) }]);
    expect(estimate.inputTokens).toBeGreaterThan(0);
    expect(server().requests).toHaveLength(0);
  });
});

describe('the dry run', () => {
  test('lists missing inputs as failing and links as skipped, and sends nothing', async () => {
    files({ 'a.txt': 'one' });
    symlinkSync(join(dir, 'a.txt'), join(dir, 'link.txt'));
    const estimate = await estimateBatch(job({ inputs: ['a.txt', 'gone.txt', 'link.txt'] }));
    expect(estimate).toMatchObject({
      files: 3,
      toSend: 1,
      failed: [{ input: 'gone.txt', reason: expect.stringMatching(/no such file/) }],
      skipped: [{ input: 'link.txt', reason: expect.stringMatching(/symbolic link/) }],
    });
    expect(server().requests).toHaveLength(0);
  });
});

describe('flowgate batch', () => {
  const start = (args: string[]) =>
    startCli(['batch', '--provider', 'ollama', '--base-url', server().origin, '--model', 'm', ...args], { cwd: dir });
  const cli = (args: string[]) => start(args).done;

  test('writes outputs and report.json; one line per item on a non-TTY stderr; exit 0', async () => {
    files({ 'src/a.ts': 'a', 'src/b.ts': 'b', '.env': 'K=1' });
    const run = await cli(['--prompt', 'Review', '--out', 'results', 'src', '.env']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^ok {6}src\/a\.ts/m);
    expect(run.stderr).toMatch(/^skipped \.env/m);
    const report = JSON.parse(readFileSync(join(dir, 'results/report.json'), 'utf8'));
    expect(report.summary).toMatchObject({ ok: 2, failed: 0, skipped: 1 });
    expect(report.items.find((i: { input: string }) => i.input === 'src/a.ts')).toMatchObject({
      input: 'src/a.ts',
      output: 'src/a.ts.md',
      status: 'ok',
      attempts: 1,
    });
  });

  test('reasoning is left out of outputs, unless --reasoning show writes it folded above the answer', async () => {
    files({ 'a.txt': 'a' });
    server().respond({ reasoning: ['Weighing ', 'it up.'], tokens: ['The answer.'] });
    expect((await cli(['--prompt', 'x', '--out', 'plain', 'a.txt'])).code).toBe(0);
    expect(readFileSync(join(dir, 'plain/a.txt.md'), 'utf8')).toBe('The answer.');
    expect((await cli(['--prompt', 'x', '--out', 'shown', '--reasoning', 'show', 'a.txt'])).code).toBe(0);
    expect(readFileSync(join(dir, 'shown/a.txt.md'), 'utf8')).toBe(
      '<details>\n<summary>Reasoning</summary>\n\nWeighing it up.\n\n</details>\n\nThe answer.',
    );
  });

  test('exit 1 when any failed, 2 on usage errors', async () => {
    files({ 'a.txt': 'FAIL' });
    server().respond({ status: 400 });
    expect((await cli(['--prompt', 'x', '--out', 'o', 'a.txt'])).code).toBe(1);
    const usage = await cli(['--out', 'o', 'a.txt']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/exactly one of --prompt TEXT or --prompt-file F/);
    expect((await cli(['--prompt', 'x', '--out', 'o', 'missing.txt'])).code).toBe(1);
  });

  test('a missing file: a failed item, the others run, report.json is written, exit 1', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two' });
    const run = await cli(['--prompt', 'x', '--out', 'o', 'a.txt', 'missing.txt', 'b.txt']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^failed {2}missing\.txt {2}\(no such file or folder; check the path\)$/m);
    const report = JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8'));
    expect(report.items.map((i: { input: string; status: string }) => `${i.input} ${i.status}`).sort()).toEqual([
      'a.txt ok',
      'b.txt ok',
      'missing.txt failed',
    ]);
    expect(report.summary).toMatchObject({ ok: 2, failed: 1 });
    expect(server().requests).toHaveLength(2);
  });

  test('a link named on the command line is reported as skipped, with the reason', async () => {
    files({ 'a.txt': 'one', 'target.txt': 'elsewhere' });
    symlinkSync(join(dir, 'target.txt'), join(dir, 'link.txt'));
    const run = await cli(['--prompt', 'x', '--out', 'o', 'a.txt', 'link.txt']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^skipped link\.txt {2}\(is a symbolic link; Flowgate does not follow links: name the file it points to instead\)$/m,
    );
    const report = JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8'));
    expect(report.items.find((i: { input: string }) => i.input === 'link.txt')).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(/symbolic link/),
    });
    expect(server().requests.map(promptOf)).toEqual([expect.stringContaining('a.txt')]);
  });

  test('--out . over the inputs: exit 2 with the message, nothing sent or written', async () => {
    files({ 'src/a.txt': 'one' });
    for (const extra of [[], ['--dry-run']]) {
      const run = await cli(['--prompt', 'x', '--out', '.', ...extra, 'src']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^flowgate: usage: The output folder \S+ holds the input "src": .* Choose an output folder outside the inputs/m,
      );
      expect(run.stdout).toBe('');
    }
    expect(server().requests).toHaveLength(0);
    expect(readdirSync(dir)).toEqual(['src']);
  });

  test('a rerun asks again for a changed input and a deleted output, and says so', async () => {
    files({ 'a.txt': 'one', 'b.txt': 'two', 'c.txt': 'three' });
    const args = ['--prompt', 'Say {{content}}', '--out', 'o', 'a.txt', 'b.txt', 'c.txt'];
    expect((await cli(args)).code).toBe(0);
    writeFileSync(join(dir, 'a.txt'), 'one, edited');
    rmSync(join(dir, 'o/c.txt.md'));
    server().reset();
    const run = await cli(args);
    expect(run.code).toBe(0);
    expect(server().requests.map(promptOf).sort()).toEqual(['Say one, edited', 'Say three']);
    expect(run.stderr).toMatch(/^ok {6}a\.txt {2}\(\d+ ms, asked again: input changed\)$/m);
    expect(run.stderr).toMatch(/^ok {6}b\.txt {2}\(done earlier\)$/m);
    expect(run.stderr).toMatch(/^ok {6}c\.txt {2}\(\d+ ms, asked again: output missing\)$/m);
    expect(run.stderr).toMatch(/flowgate: 3 ok \(1 from an earlier run, 2 asked again\), 0 failed/);
    const report = JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8'));
    expect(report.items.find((i: { input: string }) => i.input === 'a.txt')).toMatchObject({ rerun: 'input changed' });
    expect(report.summary).toMatchObject({ ok: 3, resumed: 1, rerun: 2 });
  });

  test('two runs on the same folder: the second exits 1 naming the first; each file is asked once', async () => {
    files({ 'in/a.txt': 'one', 'in/b.txt': 'two', 'in/c.txt': 'three' });
    server().respond({ tokens: ['x', 'y', 'z'], tokenDelayMs: 60 });
    const args = ['--prompt', 'Echo', '--out', 'o', '--concurrency', '1', 'in'];
    const first = start(args);
    await waitFor(() => existsSync(join(dir, 'o', '.flowgate-batch.lock')), 'the first run to take the lock');
    const second = await cli(args);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^flowgate: Another Flowgate batch \\(process ${first.child.pid}, started [^)]+\\) is running on \\S+o; two runs at once would pay for the same files\\. .* If process ${first.child.pid} is not a Flowgate batch, delete \\S+\\.flowgate-batch\\.lock\\.$`,
        'm',
      ),
    );
    expect((await first.done).code).toBe(0);
    expect(
      server()
        .requests.map((r) => promptOf(r).match(/in\/\w\.txt/)![0])
        .sort(),
    ).toEqual(['in/a.txt', 'in/b.txt', 'in/c.txt']);
    expect(JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8')).summary).toMatchObject({ ok: 3 });
    expect(existsSync(join(dir, 'o', '.flowgate-batch.lock'))).toBe(false);
  });

  test('a linked report.json: exit 1 with the message, nothing sent', async () => {
    files({ 'a.txt': 'one', 'victim.txt': 'untouched' });
    mkdirSync(join(dir, 'o'));
    symlinkSync(join(dir, 'victim.txt'), join(dir, 'o', 'report.json'));
    const run = await cli(['--prompt', 'x', '--out', 'o', 'a.txt']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^flowgate: \S*o\/report\.json is a symbolic link; Flowgate does not write through links/m,
    );
    expect(server().requests).toHaveLength(0);
    expect(readFileSync(join(dir, 'victim.txt'), 'utf8')).toBe('untouched');
  });

  test('--dry-run compares both modes: cost at the given price, the live time at the limits, the window', async () => {
    files({ 'a.txt': 'hello world', 'b.txt': 'goodbye world' });
    const run = await cli([
      ...['--provider', 'openai', '--base-url', `${server().origin}/v1`, '--model', 'gpt-4.1-mini'],
      ...['--prompt', 'Say {{content}}', '--out', 'o', '--dry-run', '--rpm', '30', '--mode', 'auto'],
      ...['--price', 'input=2,output=8,batch=0.5', '--max-tokens', '100', '--auto-min-files', '2', 'a.txt', 'b.txt'],
    ]);
    expect(run.code).toBe(0);
    const estimate = JSON.parse(run.stdout);
    expect(estimate).toMatchObject({ toSend: 2, maxOutputTokens: 200, impliedMs: 4000 });
    const prompts = (estimate.inputTokens * 2) / 1e6;
    const { live, provider } = estimate.modes;
    expect(live.ms).toBe(4000);
    expect(live.cost.prompts).toBeCloseTo(prompts, 12);
    expect(live.cost.upTo).toBeCloseTo(prompts + (200 * 8) / 1e6, 12);
    expect(provider.windowMs).toBe(86_400_000);
    expect(provider.cost.prompts).toBeCloseTo(prompts / 2, 12);
    expect(provider.cost.upTo).toBeCloseTo(live.cost.upTo / 2, 12);
    expect(estimate.modes.auto.mode).toBe('provider');
    expect(server().requests).toHaveLength(0);
    const bad = await cli(['--prompt', 'x', '--out', 'o', '--dry-run', '--price', 'input=2', 'a.txt']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--price needs at least input=N and output=N/);
  });

  test('--dry-run prints the estimate as JSON with exact token counts', async () => {
    files({ 'a.txt': 'hello world' });
    const run = await cli(['--prompt', 'Say {{content}}', '--out', 'o', '--dry-run', '--rpm', '30', 'a.txt']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ files: 1, toSend: 1, inputTokens: 3, impliedMs: 2000 });
    expect(server().requests).toHaveLength(0);
  });

  test('--mode provider: killed while polling, run again: polls the same provider batch, writes every output', async () => {
    files(
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`in/f${String(i).padStart(2, '0')}.txt`, `file ${i}`])),
    );
    server().respond({ tokens: ['batched'] });
    server().batches.pace = { itemsPerPoll: 10 };
    const args = ['--provider', 'openai', '--base-url', `${server().origin}/v1`, '--model', 'gpt-4.1-mini'];
    const run = [...args, '--prompt', 'Echo', '--out', 'o', '--mode', 'provider', '--poll-ms', '40', 'in'];
    const first = start(run);
    await waitFor(
      () => [...server().batches.batches.values()].some((b) => b.done >= 10),
      'the provider batch under way',
      15_000,
    );
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).toBeNull();
    expect(killed.stderr).toMatch(/^provider batch batch_\d+: in progress \d+\/30$/m);
    expect(existsSync(join(dir, 'o/in/f00.txt.md'))).toBe(false);
    // --status reads the journal and, given the endpoint, asks the provider; it submits nothing.
    const offline = await cli(['--status', 'o']);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/^o: no batch is running$/m);
    expect(offline.stdout).toMatch(/^job [0-9a-f]{16}: 0 ok, 0 failed, 0 incomplete; last written \S+$/m);
    expect(offline.stdout).toMatch(
      /^ {2}provider batch batch_\d+: 30 items, not collected yet \(add the endpoint flags/m,
    );
    const asked = await cli([...run, '--status', 'o']);
    expect(asked.stdout).toMatch(/^ {2}provider batch batch_\d+: 30 items, in progress \d+\/30$/m);
    const second = await cli([...run, '--price', 'input=2,output=8']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/^provider batch batch_\d+: completed 30\/30$/m);
    expect(second.stderr).toMatch(/^ok {6}in\/f00\.txt {2}\(from the provider batch\)$/m);
    // 30 items of 5 prompt tokens and 1 output token, at $2 and $8 per million, half price in a batch.
    expect(second.stderr).toMatch(/^flowgate: 30 ok .*, cost \$0\.0003 at the batch price; report: /m);
    expect(server().batches.created).toBe(1);
    expect(server().requests).toHaveLength(0);
    for (let i = 0; i < 30; i++)
      expect(readFileSync(join(dir, `o/in/f${String(i).padStart(2, '0')}.txt.md`), 'utf8')).toBe('batched');
    expect(JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8')).summary).toMatchObject({ ok: 30 });
  });

  test('resume after kill -9: nothing recorded done is requested again, nothing is lost', async () => {
    files(
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`in/f${String(i).padStart(2, '0')}.txt`, `file ${i}`])),
    );
    server().respond({ tokens: ['x', 'y'], tokenDelayMs: 40 });
    const args = ['--prompt', 'Echo', '--out', 'o', '--concurrency', '2', 'in'];
    const first = start(args);
    const journal = () => readdirSync(join(dir, 'o')).find((f) => f.endsWith('.jsonl'));
    await waitFor(
      () =>
        existsSync(join(dir, 'o')) &&
        !!journal() &&
        readFileSync(join(dir, 'o', journal()!), 'utf8').split('\n').length > 6,
      'six items in the journal',
      15_000,
    );
    first.child.kill('SIGKILL');
    expect((await first.done).code).toBeNull();
    const recorded = readFileSync(join(dir, 'o', journal()!), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).input as string);
    expect(recorded.length).toBeGreaterThanOrEqual(5);
    expect(recorded.length).toBeLessThan(20);
    server().reset();
    server().respond({ tokens: ['x', 'y'] });
    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(
      new RegExp(
        `^flowgate: Took over the lock in \\S+o left by process ${first.child.pid} \\(started [^)]+\\), which is no longer running\\.$`,
        'm',
      ),
    );
    const asked = server().requests.map((r) => promptOf(r).match(/in\/f\d\d\.txt/)![0]);
    expect(asked.filter((f) => recorded.includes(f))).toEqual([]);
    expect(asked.length).toBe(20 - recorded.length);
    const report = JSON.parse(readFileSync(join(dir, 'o/report.json'), 'utf8'));
    expect(report.summary).toMatchObject({ ok: 20, failed: 0, resumed: recorded.length });
    for (let i = 0; i < 20; i++)
      expect(readFileSync(join(dir, `o/in/f${String(i).padStart(2, '0')}.txt.md`), 'utf8')).toBe('xy');
  });
});

test('an endpoint whose params change names a new job; one without params keeps the id it had', () => {
  const base = {
    template: 'Review {{content}}',
    endpoint: { provider: 'openai' as const, baseUrl: 'http://127.0.0.1:1/v1', model: 'm' },
  };
  const plain = jobIdOf(base);
  expect(jobIdOf({ ...base, endpoint: { ...base.endpoint, params: undefined } })).toBe(plain);
  const cold = jobIdOf({ ...base, endpoint: { ...base.endpoint, params: { temperature: 0 } } });
  expect(cold).not.toBe(plain);
  expect(jobIdOf({ ...base, endpoint: { ...base.endpoint, params: { temperature: 1 } } })).not.toBe(cold);
});

describe('answers that are not whole', () => {
  test('cut off, tool calls only, or no text: incomplete with the reason, and asked again on a rerun', async () => {
    files({ 'cut.md': 'a', 'tools.md': 'b', 'empty.md': 'c', 'whole.md': 'd' });
    const scripts: Record<string, Parameters<ReturnType<typeof server>['respond']>[0]> = {
      'cut.md': { tokens: ['half an ans'], finish: 'length' },
      'tools.md': { tokens: [], toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{}' }] },
      'empty.md': { tokens: [] },
      'whole.md': { tokens: ['all of it'], reasoning: ['thinking that is never written'] },
    };
    server().respond((request) => {
      const name = Object.keys(scripts).find((file) => promptOf(request).includes(file))!;
      return scripts[name] as never;
    });
    const report = await runBatch(client, job({ concurrency: 1 }));
    const byInput = Object.fromEntries(report.items.map((i) => [i.input, i]));
    expect(byInput['cut.md']).toMatchObject({
      status: 'incomplete',
      output: 'cut.md.md',
      error: 'cut off by the token limit (the partial answer was written)',
    });
    expect(readFileSync(join(dir, 'out/cut.md.md'), 'utf8')).toBe('half an ans');
    expect(byInput['tools.md']).toMatchObject({
      status: 'incomplete',
      error: 'the model asked for 1 tool call(s) instead of answering',
    });
    expect(byInput['tools.md']).not.toHaveProperty('output');
    expect(existsSync(join(dir, 'out/tools.md.md'))).toBe(false);
    expect(byInput['empty.md']).toMatchObject({ status: 'incomplete', error: 'the model answered without any text' });
    expect(byInput['whole.md']).toMatchObject({ status: 'ok', output: 'whole.md.md' });
    expect(readFileSync(join(dir, 'out/whole.md.md'), 'utf8')).toBe('all of it');
    expect(report.summary).toMatchObject({ ok: 1, incomplete: 3, failed: 3 });

    // The same job again: only the three that were not whole are asked again.
    const before = server().requests.length;
    const again = await runBatch(client, job({ concurrency: 1 }));
    const asked = server()
      .requests.slice(before)
      .map((r) => Object.keys(scripts).find((f) => promptOf(r).includes(f)));
    expect(asked.sort()).toEqual(['cut.md', 'empty.md', 'tools.md']);
    expect(again.summary).toMatchObject({ resumed: 1, incomplete: 3 });
  });
});

test('cached prompt tokens reach each item and the summary', async () => {
  files({ 'a.md': 'a', 'b.md': 'b' });
  const cachedUsage = [
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'ok' } }] })}\n\n`,
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 64 } } })}\n\n`,
    'data: [DONE]\n\n',
  ].join('');
  server().respond({ rawStream: cachedUsage, headers: { 'content-type': 'text/event-stream' } });
  const report = await runBatch(
    client,
    job({ endpoint: { provider: 'openai', baseUrl: `${server().origin}/v1`, model: 'm' } }),
  );
  // Items finish in any order at concurrency 3.
  const items = report.items.map((i) => [i.input, i.status, i.inputTokens, i.cachedInputTokens]).sort();
  expect(items).toEqual([
    ['a.md', 'ok', 100, 64],
    ['b.md', 'ok', 100, 64],
  ]);
  expect(report.summary.cachedInputTokens).toBe(128);
});
