import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { UnsafePathError, compareModes, sharedJobIdOf, type BatchReport } from '../../src/core/batch';
import { parseBatchArgs } from '../../src/cli/args';
import { translate } from './helpers';
import {
  batchFailureText,
  besideName,
  etaMs,
  excludeCheck,
  joinCommand,
  joinRow,
  modeRow,
  promptCacheRow,
  progressMessage,
  reportMarkdown,
  unfence,
} from '../../src/host/batch/batch-model';
import { parseTemplates } from '../../src/host/settings/rules';

const t = translate;
const progress = {
  done: 10,
  failed: 2,
  skipped: 3,
  resumed: 4,
  running: 2,
  inputTokens: 1000,
  outputTokens: 500,
  elapsedMs: 8000,
};

describe('batch UI logic', () => {
  test('files.exclude globs become an ignore check relative to the folder', () => {
    const check = excludeCheck({ '**/.git': true, '**/*.log': true, dist: true, 'off/**': false }, '/ws');
    expect(check('/ws/a/b.log', false)).toBe(true);
    expect(check('/ws/dist', true)).toBe(true);
    expect(check('/ws/src/a.ts', false)).toBe(false);
    expect(check('/ws/off/x.ts', false)).toBe(false);
    expect(check('/elsewhere/x.log', false)).toBe(false);
  });

  test('templates keep only name-to-prompt strings', () => {
    expect(parseTemplates({ Review: 'Review {{content}}', Empty: ' ', Bad: 3 })).toEqual({
      Review: 'Review {{content}}',
    });
    expect(parseTemplates('nope')).toEqual({});
  });

  test('progress says done, failed, skipped, running, time left and tokens', () => {
    // 8 requested in 8 s (10 done less 4 resumed, plus 2 failed): 1 s each, 35 left.
    expect(etaMs(progress, 50)).toBe(35_000);
    expect(progressMessage(progress, 50, t)).toBe(
      '10 of 50 done · 2 failed · 3 skipped · 2 running · about 35 s left · 1500 tokens',
    );
    expect(etaMs({ ...progress, done: 0, failed: 0, resumed: 0 }, 50)).toBeUndefined();
  });

  test("a shared job: the progress counts every process, with this one's part, and guesses no time left", () => {
    const shared = { ...progress, shared: { recorded: 31, total: 50 } };
    expect(progressMessage(shared, 50, t)).toBe(
      '31 of 50 done by every process, 10 here · 2 failed · 3 skipped · 2 running · 1500 tokens',
    );
    expect(etaMs(shared, 50)).toBeUndefined();
  });

  test("provider mode: the progress carries the provider's own state and counts", () => {
    const waiting = {
      ...progress,
      done: 0,
      failed: 0,
      skipped: 0,
      running: 0,
      resumed: 0,
      inputTokens: 0,
      outputTokens: 0,
    };
    const providerBatches = [{ id: 'batch_abc', state: 'in_progress', total: 10_000, completed: 3100, failed: 20 }];
    expect(progressMessage({ ...waiting, providerBatches }, 10_000, t)).toBe(
      '0 of 10000 done · provider batch batch_abc: in progress, 3120 of 10000',
    );
  });

  test('the readable report lists failures and skips with their reasons', () => {
    const report: BatchReport = {
      items: [
        { input: 'a.ts', output: 'a.ts.md', status: 'ok', attempts: 1, ms: 900 },
        { input: 'b|c.ts', status: 'failed', attempts: 3, error: 'OpenAI answered 500' },
        { input: '.env', status: 'skipped', attempts: 0, error: 'looks like a secret' },
      ],
      summary: {
        ok: 1,
        mode: 'live',
        incomplete: 0,
        cachedInputTokens: 0,
        rerun: 1,
        failed: 1,
        skipped: 1,
        resumed: 0,
        redacted: 1,
        done: 1,
        total: 3,
        cancelled: false,
        wallMs: 61_000,
        elapsedMs: 61_000,
        inputTokens: 10,
        outputTokens: 20,
        latencyMs: { p50: 900, p95: 900 },
      },
    };
    const text = reportMarkdown(report, t);
    expect(text).toContain('| Wall time | 1 min 1 s |');
    expect(text).toContain('| Asked again (input changed or answer missing) | 1 |');
    expect(text).toContain('## Failed\n\n| File | Reason |\n|---|---|\n| b\\|c.ts | OpenAI answered 500 |');
    expect(text).toContain('| .env | looks like a secret |');
  });

  test('an answer that is one fenced block becomes the code for in-place writing', () => {
    expect(unfence('```ts\nconst a = 1;\n```')).toBe('const a = 1;\n');
    expect(unfence('Here:\n```ts\nx\n```')).toBe('Here:\n```ts\nx\n```');
    expect(unfence('plain text')).toBe('plain text');
    expect(besideName('a.ts', 'flowgate')).toBe('a.ts.flowgate.md');
  });

  test("a batch that cannot run says so in the engine's words, as the CLI does", () => {
    const refused = new UnsafePathError('/ws/out/report.json', 'link');
    expect(batchFailureText(refused, t)).toBe(refused.message);
    expect(batchFailureText(new Error('disk full'), t)).toBe('The batch stopped: disk full');
  });
});

describe('the confirm screen compares the two modes', () => {
  const estimate = {
    files: 200,
    toSend: 200,
    skipped: [],
    failed: [],
    sensitive: 0,
    inputTokens: 400_000,
    maxOutputTokens: 100_000,
    impliedMs: 600_000,
    sharedPrefixTokens: 1500,
    cachedInputTokens: 298_500,
    cacheWriteInputTokens: 0,
  };
  const price = { input: 2, output: 8, cachedInput: 0.5 };

  test('cost from prompts alone to every answer at max tokens, the live time at the limits, the window', () => {
    const compared = compareModes(estimate, { provider: 'openai' }, price);
    // Live: 101,500 fresh tokens at $2 and 298,500 cached at $0.50 per million, plus up to 100,000 out at $8.
    const gpt = { provider: 'openai', model: 'gpt-4.1' };
    expect(modeRow('live', compared, gpt, t)).toEqual({
      label: '$(zap) Live: one request per file, now',
      description: "OpenAI's Batch API",
      detail: 'live $0.35–$1.15, at least 10 min · batch $0.18–$0.58, within 24 h',
    });
    expect(modeRow('auto', compared, gpt, t).label).toBe(
      '$(sparkle) Auto: provider batch: 200 files, at the batch price, within the deadline of 24 h',
    );
    const llama = { provider: 'ollama' as const, model: 'llama' };
    expect(modeRow('provider', compareModes(estimate, llama, undefined), llama, t)).toEqual({
      label: '$(cloud-upload) As a provider batch: half price, answered within 24 hours',
      description: 'Ollama has no batch API: runs live',
      detail: 'live no price for llama, at least 10 min · no batch API for this endpoint',
    });
  });

  test('the prompt cache row says what the shared beginning earns', () => {
    // 298,500 tokens at $0.50 instead of $2 per million.
    const saving = compareModes(estimate, { provider: 'openai' }, price).live.cost!.cacheSaving;
    expect(saving).toBeCloseTo(0.44775, 10);
    expect(promptCacheRow('5m', estimate, saving, t)).toEqual({
      label: '$(database) Prompt cache: the shared beginning, for 5 minutes',
      description: 'about 298500 prompt tokens from the cache, saving about $0.45',
    });
    expect(promptCacheRow('5m', estimate, undefined, t).description).toBe('about 298500 prompt tokens from the cache');
    expect(promptCacheRow('1h', { sharedPrefixTokens: 12, cachedInputTokens: 0 }, undefined, t).description).toBe(
      '12 shared tokens: too few to cache (1,024 at least)',
    );
    expect(promptCacheRow('off', estimate, undefined, t).label).toBe('$(database) Prompt cache off');
  });

  test('the shared-batch row says whether the window works alone or with whom', () => {
    expect(joinRow('', 'redis://10.0.0.5:6379', t)).toEqual({
      label: '$(person) This window alone',
      description: 'share the work with other machines through redis://10.0.0.5:6379',
    });
    expect(joinRow('nightly', 'redis://10.0.0.5:6379', t)).toEqual({
      label: '$(organization) Shared: every process that joins "nightly" takes files from one queue',
      description: 'on redis://10.0.0.5:6379',
    });
  });

  test('the command for other machines reads back word for word in a shell and names the same shared job in the CLI', () => {
    const template = 'Review {{path}}: it\'s "quoted", $HOME and `date` stay as typed\n{{content}}';
    const endpoint = {
      provider: 'anthropic' as const,
      baseUrl: 'https://api.anthropic.com',
      model: 'claude-sonnet-4-5',
      rpm: 50,
    };
    const command = joinCommand({
      join: 'nightly-review',
      redisUrl: 'rediss://flowgate@cache.internal:6380/2',
      endpoint,
      template,
      outputFolder: 'flowgate-out',
      writeReasoning: true,
      redact: true,
      allowSkipped: false,
      inputs: ['src/a file.ts', 'docs'],
    });
    const words = execFileSync('sh', ['-c', `printf '%s\\0' ${command}`], { env: { HOME: '/nowhere' } })
      .toString()
      .split('\0')
      .slice(0, -1);
    expect(words).toEqual([
      'flowgate',
      'batch',
      '--provider',
      'anthropic',
      '--base-url',
      'https://api.anthropic.com',
      '--model',
      'claude-sonnet-4-5',
      '--rpm',
      '50',
      '--redis',
      'rediss://flowgate@cache.internal:6380/2',
      '--join',
      'nightly-review',
      '--prompt',
      template,
      '--out',
      'flowgate-out',
      '--reasoning',
      'show',
      '--redact',
      'src/a file.ts',
      'docs',
    ]);
    const args = parseBatchArgs(words.slice(2), { ANTHROPIC_API_KEY: 'sk-ant-test' });
    if (args.help) throw new Error('parsed as --help');
    expect(args).toMatchObject({
      join: 'nightly-review',
      out: 'flowgate-out',
      files: ['src/a file.ts', 'docs'],
      redisUrl: 'rediss://flowgate@cache.internal:6380/2',
    });
    expect(args.endpoint.rpm).toBe(50);
    // The window's job (no system prompt or max tokens of its own, redacted, skipping what looks secret) and the
    // CLI's are one shared job, so they meet on one queue.
    const fromWindow = sharedJobIdOf(
      { template, endpoint, system: undefined, maxTokens: undefined, writeReasoning: true },
      { redact: true, allowSecrets: false, allowBinary: false },
    );
    const fromCli = sharedJobIdOf(
      {
        template: args.prompt!,
        endpoint: args.endpoint,
        system: args.system,
        maxTokens: args.maxTokens,
        writeReasoning: args.writeReasoning,
      },
      { redact: args.redact, allowSecrets: args.allowSecrets, allowBinary: args.allowBinary },
    );
    expect(fromCli).toBe(fromWindow);
    // A process that would send the files unredacted is another job: it cannot join this queue.
    expect(
      sharedJobIdOf(
        { template, endpoint, system: undefined, maxTokens: undefined, writeReasoning: true },
        { redact: false, allowSecrets: false, allowBinary: false },
      ),
    ).not.toBe(fromWindow);
  });
});
