/**
 * Recorded provider streams (test/fixtures/wire, sources in SOURCES.md) as
 * the bytes a server sends. The recordings keep each event's JSON exactly as
 * the provider sent it, one per line; this adds the framing around them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const WIRE = join(__dirname, '..', 'fixtures', 'wire');

export type WireFormat = 'openai-chat' | 'openai-responses' | 'anthropic' | 'ollama';

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * The response bodies a server sends for a recorded file: one stream, or
 * for the Responses API one per recorded response (a file of a multi-step
 * exchange holds several, each ending with its terminal event).
 */
export function wireStreams(format: WireFormat, file: string): string[] {
  const lines = readFileSync(join(WIRE, format, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  if (format === 'ollama') return [lines.map((line) => `${line}\n`).join('')];
  if (format === 'openai-chat') return [`${lines.map((line) => `data: ${line}\n\n`).join('')}data: [DONE]\n\n`];
  const typed = (line: string): string => `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`;
  if (format === 'anthropic') return [lines.map(typed).join('')];
  const streams: string[][] = [[]];
  for (const line of lines) {
    streams.at(-1)!.push(typed(line));
    if (TERMINAL.has((JSON.parse(line) as { type: string }).type)) streams.push([]);
  }
  return streams.filter((events) => events.length).map((events) => events.join(''));
}

/** A whole (non-streaming) recorded response body. */
export function wireJson(format: WireFormat, file: string): unknown {
  return JSON.parse(readFileSync(join(WIRE, format, file), 'utf8'));
}

/** Piece sizes from a seeded generator, so a failing split can be replayed. */
export function randomSplits(seed: number, count = 64, max = 97): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return 1 + (state % max);
  });
}
