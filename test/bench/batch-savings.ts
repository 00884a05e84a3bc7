/**
 * What provider batches and prompt caching save on a realistic job: 2,000
 * source files reviewed against a team style guide, run through the real
 * batch runner against the test server with its prompt-cache model on, in
 * each mode. Tokens come from the runs' own reports; dollars are those
 * tokens at the prices below; the live time is what the endpoint's limits
 * imply (the test server answers at once), the provider's is its window.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlmClient, costOf, formatCost, formatDuration, type ModelPrice } from '../../src/core';
import {
  compareModes,
  estimateBatch,
  runBatch,
  type BatchJob,
  type BatchReport,
  type PromptCacheSetting,
} from '../../src/core/batch';
import { TestLlmServer } from '../server/llm-server';

const FILES = 2000;
/** A style guide of about 1,500 tokens: the instruction every request shares. */
const GUIDE = Array.from(
  { length: 60 },
  (_, i) => `${i + 1}. Prefer small functions whose names say what they do; explain why, not what, in comments.`,
).join('\n');
const TEMPLATE = `You review TypeScript against the team's style guide:\n${GUIDE}\n\nReview {{path}}. List the problems, most serious first.\n\n{{content}}`;
/** About 600 tokens of code per file. */
const fileText = (i: number): string =>
  Array.from({ length: 40 }, (_, line) => `export const value${i}_${line} = compute(${line}, "item ${i}");`).join('\n');
/** A 250-token review. */
const ANSWER = Array.from({ length: 250 }, (_, i) => `word${i} `);

interface Contender {
  provider: 'openai' | 'anthropic';
  model: string;
  price: ModelPrice;
  /** The endpoint's limits a live run is paced to. */
  rpm: number;
  tpm: number;
}

/** List prices per million tokens, and the providers' published tier limits, as configured for this run. */
const CONTENDERS: Contender[] = [
  {
    provider: 'openai',
    model: 'gpt-4.1',
    price: { input: 2, cachedInput: 0.5, output: 8, batch: 0.5 },
    rpm: 5000,
    tpm: 450_000,
  },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    price: { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15, batch: 0.5 },
    rpm: 1000,
    tpm: 450_000,
  },
];

interface Row {
  label: string;
  input: number;
  cached: number;
  written: number;
  output: number;
  cost: number;
  time: string;
}

export async function batchSavings(): Promise<string> {
  const server = await TestLlmServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-bench-savings-'));
  try {
    for (let i = 0; i < FILES; i++) {
      const folder = join(dir, 'src', String(Math.floor(i / 500)));
      if (i % 500 === 0) mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `module${i}.ts`), fileText(i));
    }
    const sections: string[] = [];
    for (const contender of CONTENDERS) sections.push(await compare(server, dir, contender));
    return section(sections);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function compare(server: TestLlmServer, dir: string, c: Contender): Promise<string> {
  const job = (mode: 'live' | 'provider', promptCache: PromptCacheSetting, out: string): BatchJob => ({
    inputs: ['src'],
    cwd: dir,
    outDir: join(dir, out),
    template: TEMPLATE,
    endpoint: {
      provider: c.provider,
      baseUrl: server.baseUrl(c.provider),
      model: c.model,
      apiKey: 'sk-bench',
      rpm: c.rpm,
      tpm: c.tpm,
    },
    maxTokens: 400,
    concurrency: 32,
    mode,
    promptCache,
    poll: { firstMs: 1, maxMs: 5 },
  });
  const runs: [string, BatchJob][] = [
    ['live, no cache hint', job('live', 'off', `${c.provider}-live`)],
    ['live, prompt caching', job('live', '5m', `${c.provider}-live-cached`)],
    ['provider batch, prompt caching', job('provider', '5m', `${c.provider}-provider`)],
  ];
  const estimate = await estimateBatch(runs[1]![1]);
  const window = formatDuration(compareModes(estimate, runs[1]![1].endpoint, c.price).provider!.windowMs);
  const rows: Row[] = [];
  for (const [label, batchJob] of runs) {
    server.reset();
    server.promptCaching = true;
    server.respond({ tokens: ANSWER });
    const client = new LlmClient();
    // The limits give the dry run's live time; the runs themselves go as fast as the test server answers.
    const unpaced = { ...batchJob, endpoint: { ...batchJob.endpoint, rpm: undefined, tpm: undefined } };
    const report = await runBatch(client, unpaced).finally(() => client.close());
    if (report.summary.ok !== FILES) throw new Error(`${label}: ${report.summary.ok} of ${FILES} ok`);
    rows.push(
      rowOf(
        label,
        report,
        c,
        batchJob.mode === 'provider' ? `within ${window}` : formatDuration(estimate.impliedMs ?? 0),
      ),
    );
  }
  // What the job costs with every token at the list price: nothing from a cache, nothing at the batch price.
  const first = rows[0]!;
  const plain: Row = {
    label: 'list price, nothing cached',
    input: first.input,
    cached: 0,
    written: 0,
    output: first.output,
    cost: (first.input * c.price.input + first.output * c.price.output) / 1e6,
    time: first.time,
  };
  const table = [plain, ...rows]
    .map(
      (r) =>
        `| ${r.label} | ${thousands(r.input)} | ${thousands(r.cached)} | ${thousands(r.written)} | ${thousands(r.output)} | ${formatCost(r.cost)} | ${Math.round((1 - r.cost / plain.cost) * 100)}% | ${r.time} |`,
    )
    .join('\n');
  return `### ${c.provider === 'openai' ? 'OpenAI' : 'Anthropic'}, ${c.model}

Prices per million tokens: input $${c.price.input}, cached input $${c.price.cachedInput}${c.price.cacheWrite ? `, cache write $${c.price.cacheWrite}` : ''}, output $${c.price.output}; batch share ${c.price.batch}. Limits for the live time: ${thousands(c.rpm)} RPM, ${thousands(c.tpm)} TPM.

| Run | Prompt tokens | from the cache | written to the cache | Output tokens | Cost | Saved | Time |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${table}

The dry run estimated ${thousands(estimate.inputTokens)} prompt tokens, ${thousands(estimate.cachedInputTokens)} of them from the cache (measured: ${thousands(rows[1]!.cached)}).`;
}

function rowOf(label: string, report: BatchReport, c: Contender, time: string): Row {
  const sum = (key: 'inputTokens' | 'cachedInputTokens' | 'cacheWriteInputTokens' | 'outputTokens'): number =>
    report.items.reduce((total, item) => total + (item[key] ?? 0), 0);
  const cost = report.items.reduce((total, item) => total + (costOf(c.model, item, { [c.model]: c.price }) ?? 0), 0);
  return {
    label,
    input: sum('inputTokens'),
    cached: sum('cachedInputTokens'),
    written: sum('cacheWriteInputTokens'),
    output: sum('outputTokens'),
    cost,
    time,
  };
}

const thousands = (n: number): string => n.toLocaleString('en-US');

function section(parts: string[]): string {
  return `## Batch savings on a realistic job

${thousands(FILES)} TypeScript files of about 600 tokens each, reviewed against a team style guide of
about 1,500 tokens that every request shares (\`Review {{path}}\` after it, the file last), answers
of 250 tokens, max tokens 400. Each run is the real batch runner against the test server, whose
prompt-cache model follows the providers' documented rules (OpenAI: prefixes of 1,024 tokens or
more, in steps of 128, by \`prompt_cache_key\`; Anthropic: the prefix up to \`cache_control\`,
written once and read after). Token counts are the runs' own report totals; cost is those tokens
at the prices given; "Saved" is against the same tokens at the list price. OpenAI caches long
prefixes without being asked, so its run without a hint reads the cache too; the job's one
\`prompt_cache_key\` keeps requests on the same cache when they would otherwise spread (the test
server does not model that spread). Anthropic caches only what is marked, and calls cache hits
inside a batch best-effort: the provider-batch rows assume every hit. The live time is what the
endpoint's limits imply for the job's tokens (the dry run's figure; the test server itself answers
at once); a provider batch is answered within the provider's window, which this run cannot
measure: the providers say most batches finish well within it.

${parts.join('\n\n')}
`;
}
