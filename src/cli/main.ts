import { CancelledError, ConfigError, TimeoutError, diagnose, formatDoctorReport } from '../core';
import {
  BATCH_USAGE,
  BENCH_USAGE,
  CHAT_USAGE,
  DOCTOR_USAGE,
  UsageError,
  parseBatchArgs,
  parseBatchStatusArgs,
  parseBenchArgs,
  parseChatArgs,
  parseDoctorArgs,
} from './args';
import { dryRun, runBatchCommand, statusCommand } from './batch';
import { runBench } from './bench';
import { runChat, type ChatStats } from './chat';

const TOP_USAGE = `Usage: flowgate <command> [options]

Commands:
  chat    stream one answer from an LLM endpoint to stdout
  batch   run one prompt over many files, resumably, with a report
  bench   send many requests through the engine and print a JSON summary
  doctor  check an endpoint step by step: DNS, TCP, TLS, first token, rate limits

Run "flowgate <command> --help" for its options.`;

export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, noAnswer: 4, interrupted: 130 } as const;

const notice = (line: string): void => void process.stderr.write(`flowgate: ${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${TOP_USAGE}\n`);
    return EXIT.ok;
  }
  if (command === undefined) throw new UsageError(`No command given.\n\n${TOP_USAGE}`);
  if (command === 'chat') return chat(rest);
  if (command === 'bench') return bench(rest);
  if (command === 'batch') return batch(rest);
  if (command === 'doctor') return doctor(rest);
  throw new UsageError(`Unknown command ${JSON.stringify(command)}.\n\n${TOP_USAGE}`);
}

/**
 * An AbortSignal that Ctrl+C aborts, so the request stops and its socket
 * closes. A reader that closes stdout early (`| head`) stops it the same way:
 * nobody reads the rest, so nobody should pay for it.
 */
function interruptSignal(): AbortSignal {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  if (stdoutClosed) interrupt.abort();
  else process.stdout.once('close', () => interrupt.abort());
  return interrupt.signal;
}

/** Set when the reader of stdout has gone (EPIPE): the run then ends quietly. */
let stdoutClosed = false;

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  stdoutClosed = true;
  process.stdout.destroy();
});

async function chat(argv: string[]): Promise<number> {
  const args = parseChatArgs(argv, process.env);
  if (args.help) {
    process.stdout.write(`${CHAT_USAGE}\n`);
    return EXIT.ok;
  }
  const prompt = args.prompt ?? (await readStdin());
  if (!prompt.trim()) throw new UsageError('No prompt: give it as an argument or on stdin.');
  try {
    const thinking = (text: string): void => void process.stderr.write(text);
    const stats = await runChat(args, prompt, process.stdout, interruptSignal(), notice, thinking);
    if (process.stdout.isTTY) process.stdout.write('\n');
    if (args.stats) printStats(stats);
    if (stats.finishReason === 'length') notice('the answer was cut off by the token limit (--max-tokens).');
    const missing = noAnswer(stats);
    if (!missing) return EXIT.ok;
    notice(missing);
    return EXIT.noAnswer;
  } catch (error) {
    const stats = (error as { stats?: ChatStats }).stats;
    if (args.stats && stats) printStats(stats);
    throw error;
  }
}

/** Why an answer that finished is no answer, said on stderr with exit code 4; undefined when it is one. */
function noAnswer(stats: ChatStats): string | undefined {
  if (stats.refused) return 'the model refused to answer (see above).';
  if (stats.finishReason === 'content_filter') return "the provider's content filter stopped the answer.";
  if (stats.finishReason === 'tool_calls' || (stats.toolCalls > 0 && stats.textLength === 0)) {
    return `the model answered with ${stats.toolCalls} tool call(s) for the caller to run, not text.`;
  }
  if (stats.textLength === 0) return 'the model finished without any text.';
  return undefined;
}

async function bench(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv, process.env);
  if (args.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return EXIT.ok;
  }
  const signal = interruptSignal();
  const summary = await runBench(args, signal);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (signal.aborted) return EXIT.interrupted;
  return summary.failed === 0 ? EXIT.ok : EXIT.failed;
}

async function batch(argv: string[]): Promise<number> {
  if (argv.some((arg) => arg === '--status' || arg.startsWith('--status=')))
    return statusCommand(parseBatchStatusArgs(argv, process.env), process.stdout);
  const args = parseBatchArgs(argv, process.env);
  if (args.help) {
    process.stdout.write(`${BATCH_USAGE}\n`);
    return EXIT.ok;
  }
  if (args.dryRun) {
    process.stdout.write(`${await dryRun(args)}\n`);
    return EXIT.ok;
  }
  const signal = interruptSignal();
  const report = await runBatchCommand(args, signal, process.stderr);
  if (signal.aborted) return EXIT.interrupted;
  return report.summary.failed === 0 ? EXIT.ok : EXIT.failed;
}

async function doctor(argv: string[]): Promise<number> {
  const args = parseDoctorArgs(argv, process.env);
  if (args.help) {
    process.stdout.write(`${DOCTOR_USAGE}\n`);
    return EXIT.ok;
  }
  const report = await diagnose(args.endpoint, {
    connectTimeoutMs: args.connectTimeoutMs,
    firstTokenTimeoutMs: args.firstTokenTimeoutMs,
  });
  process.stdout.write(`${formatDoctorReport(report)}\n`);
  return report.ok ? EXIT.ok : EXIT.failed;
}

function printStats(stats: ChatStats): void {
  process.stderr.write(`${JSON.stringify(stats)}\n`);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError(`No prompt given.\n\n${CHAT_USAGE}`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError) return EXIT.usage;
  if (error instanceof TimeoutError) return EXIT.timeout;
  if (error instanceof CancelledError) return EXIT.interrupted;
  // A refused output folder, a held lock or an unwritable journal is the file system's state, not how the command was called.
  return EXIT.failed;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = stdoutClosed ? EXIT.ok : code;
  },
  (error: unknown) => {
    // The reader closed the pipe (`flowgate chat ... | head`): what it wanted, it has.
    if (stdoutClosed) return void (process.exitCode = EXIT.ok);
    const code = exitCodeFor(error);
    const prefix = code === EXIT.usage ? 'flowgate: usage: ' : 'flowgate: ';
    process.stderr.write(`${process.stdout.isTTY ? '\n' : ''}${prefix}${(error as Error).message}\n`);
    process.exitCode = code;
  },
);
