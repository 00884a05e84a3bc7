/**
 * The CPU benchmark: what each client spends per request and per network
 * chunk, each in its own process (cpu-worker.ts), interleaved round by
 * round against one server process, so a slow moment of this shared machine
 * hits every contender alike. CPU time (user + system) is the measure: it is
 * what the extension host gives up, and unlike wall-clock rates it barely
 * moves with the machine's load.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Script } from '../server/llm-server';

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
export type Contender = 'floor' | 'engine' | 'engine-events' | 'sdk';
export interface WorkerCommand {
  id: number;
  count: number;
}
export interface WorkerReply {
  id: number;
  cpuMs: number;
  wallMs: number;
  /** Network chunks received per answer (the floor counts them; the others report 0). */
  chunksPerAnswer: number;
  /** Peak resident memory of this process so far. */
  maxRssMb: number;
}

/** Requests in flight at once, for every client. */
export const CONCURRENCY = 32;

export interface Scenario {
  name: string;
  /** What the server answers with. */
  script: Script;
  /** Requests per contender per round. */
  requests: number;
}

const deltas = (count: number): string[] => Array.from({ length: count }, (_, i) => `tok${i} `);

export const SCENARIOS: Scenario[] = [
  { name: '12 deltas', script: { tokens: deltas(12), usage: { input: 8, output: 12 } }, requests: 6000 },
  { name: '200 deltas', script: { tokens: deltas(200), usage: { input: 8, output: 200 } }, requests: 1000 },
  // Each delta in its own network write, 1 ms apart, so each arrives as its own chunk.
  {
    name: 'one delta per chunk',
    script: { tokens: deltas(100), tokenDelayMs: 1, usage: { input: 8, output: 100 } },
    requests: 320,
  },
];

/** A contender's process. `script` is the worker bundle to run (another build of the engine, for comparisons). */
export class Worker {
  private nextId = 0;
  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(label: string, contender: Contender, origin: string, script?: string): Promise<Worker> {
    const child = fork(script ?? join(__dirname, 'cpu-worker.js'), [contender, origin], { stdio: 'inherit' });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${label} worker exited with ${code}`)));
    });
    return new Worker(label, child);
  }

  run(count: number): Promise<WorkerReply> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`${this.label} worker exited with ${code}`));
      this.child.once('exit', onExit);
      this.child.once('message', (reply: WorkerReply) => {
        this.child.off('exit', onExit);
        resolve(reply);
      });
      this.child.send({ id, count });
    });
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

export interface Samples {
  /** CPU ms per 1,000 requests, one per round. */
  cpuPer1000: number[];
  /** This round's CPU over the floor's in the same round, one per round. */
  ratioToFloor: number[];
  requestsPerSecond: number[];
  chunksPerAnswer: number;
}

export interface CpuResult {
  scenarios: { scenario: Scenario; byLabel: Map<string, Samples> }[];
  peakRssMb: Map<string, number>;
}

/**
 * Every scenario, ROUNDS rounds each; in each round every contender runs
 * once, in an order that rotates, after one warm-up run (connections, JIT).
 * The first worker is the floor the others are compared with.
 */
export async function measureCpu(
  workers: Worker[],
  setScript: (script: Script) => Promise<void>,
  log: (line: string) => void,
): Promise<CpuResult> {
  const result: CpuResult = { scenarios: [], peakRssMb: new Map() };
  for (const scenario of SCENARIOS) {
    await setScript(scenario.script);
    const byLabel = new Map<string, Samples>(
      workers.map((w) => [w.label, { cpuPer1000: [], ratioToFloor: [], requestsPerSecond: [], chunksPerAnswer: 0 }]),
    );
    for (const worker of workers) await worker.run(scenario.requests); // warm: connections, JIT
    for (let round = 0; round < ROUNDS; round++) {
      const order = workers.map((_, i) => workers[(i + round) % workers.length]!);
      for (const worker of order) {
        const reply = await worker.run(scenario.requests);
        const samples = byLabel.get(worker.label)!;
        samples.cpuPer1000.push((reply.cpuMs / scenario.requests) * 1000);
        samples.requestsPerSecond.push((scenario.requests / reply.wallMs) * 1000);
        samples.chunksPerAnswer = Math.max(samples.chunksPerAnswer, reply.chunksPerAnswer);
        result.peakRssMb.set(worker.label, Math.max(result.peakRssMb.get(worker.label) ?? 0, reply.maxRssMb));
      }
      // Paired within the round: a slow spell of the machine moves both sides of the ratio.
      const floor = byLabel.get(workers[0]!.label)!.cpuPer1000.at(-1)!;
      for (const samples of byLabel.values()) samples.ratioToFloor.push(samples.cpuPer1000.at(-1)! / floor);
      log(`  ${scenario.name}, round ${round + 1}/${ROUNDS}`);
    }
    result.scenarios.push({ scenario, byLabel });
  }
  return result;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Lowest to highest, as a share of the median: how much the rounds disagreed. */
export const spread = (values: number[]): string => {
  const m = median(values);
  return `${Math.round(((Math.min(...values) - m) / m) * 100)}% / +${Math.round(((Math.max(...values) - m) / m) * 100)}%`;
};
