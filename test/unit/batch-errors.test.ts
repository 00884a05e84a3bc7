import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FlowgateError, LlmClient } from '../../src/core';
import {
  BatchFilesError,
  BatchLockedError,
  LOCK_NAME,
  UnsafePathError,
  runBatch,
  writeReport,
  type BatchJob,
} from '../../src/core/batch';
import { runCli } from './cli-process';
import { rejection, useServer } from './helpers';

// Every way a batch can refuse to run ends in a FlowgateError with a code of its own.

const { server } = useServer();
/** A folder name longer than any file system allows: mkdir fails with ENAMETOOLONG, even for root. */
const TOO_LONG = 'x'.repeat(300);
let dir: string;
let client: LlmClient;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowgate-batch-errors-'));
  writeFileSync(join(dir, 'a.txt'), 'one');
  client = new LlmClient({ retry: { maxAttempts: 1 } });
});
afterEach(async () => {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function job(overrides: Partial<BatchJob> = {}): BatchJob {
  return {
    inputs: ['a.txt'],
    cwd: dir,
    outDir: join(dir, 'out'),
    template: 'Summarise {{path}}.',
    endpoint: { provider: 'ollama', baseUrl: server().origin, model: 'm' },
    ...overrides,
  };
}

describe('batch errors', () => {
  test('a folder the batch cannot create is a BatchFilesError that names it and says what to do; nothing is sent', async () => {
    const outDir = join(dir, TOO_LONG);
    const error = await rejection(runBatch(client, job({ outDir })));
    expect(error).toBeInstanceOf(BatchFilesError);
    expect(error).toMatchObject({
      name: 'BatchFilesError',
      code: 'FLOWGATE_BATCH_FILES',
      dir: outDir,
      retryable: false,
      cause: { code: 'ENAMETOOLONG' },
    });
    expect(error.message).toMatch(
      /^Flowgate could not read or write the batch's files in \S+ \(ENAMETOOLONG: .*\)\. Check that the folder is writable and the disk has room, or choose another output folder\.$/,
    );
    expect(server().requests).toHaveLength(0);
  });

  test('writing the report where it cannot go is a BatchFilesError too', async () => {
    const error = await rejection(writeReport(join(dir, TOO_LONG), { items: [], summary: {} as never }));
    expect(error).toMatchObject({ code: 'FLOWGATE_BATCH_FILES' });
  });

  test('a held lock and a linked report have codes of their own', async () => {
    mkdirSync(join(dir, 'out'));
    writeFileSync(
      join(dir, 'out', LOCK_NAME),
      JSON.stringify({ pid: 1, host: `not-${hostname()}`, started: '2025-01-01T00:00:00.000Z', token: 'abc' }),
    );
    const locked = await rejection(runBatch(client, job()));
    expect(locked).toBeInstanceOf(BatchLockedError);
    expect(locked).toMatchObject({ name: 'BatchLockedError', code: 'FLOWGATE_BATCH_LOCKED', retryable: false });
    const unsafe = new UnsafePathError('/out/report.json', 'link');
    expect(unsafe).toBeInstanceOf(FlowgateError);
    expect(unsafe).toMatchObject({ name: 'UnsafePathError', code: 'FLOWGATE_UNSAFE_PATH', retryable: false });
  });

  test('the CLI exits 1 on a folder it cannot write, with the message', async () => {
    const batch = ['batch', '--provider', 'ollama', '--base-url', server().origin, '--model', 'm'];
    const run = await runCli([...batch, '--prompt', 'x', '--out', TOO_LONG, 'a.txt'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^flowgate: Flowgate could not read or write the batch's files in \S+ \(ENAMETOOLONG/m);
    expect(server().requests).toHaveLength(0);
  });
});
