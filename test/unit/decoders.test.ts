import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Frame, FrameDecoder } from '../../src/core/decode/frame';
import { NdjsonDecoder } from '../../src/core/decode/ndjson';
import { SseDecoder } from '../../src/core/decode/sse';

const BOM = '\uFEFF';

/** Feeds bytes cut at the given offsets, then ends. */
function decode(decoder: FrameDecoder, bytes: Uint8Array, cuts: number[]): Frame[] {
  const frames: Frame[] = [];
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    frames.push(...decoder.push(bytes.subarray(start, cut)));
    start = cut;
  }
  frames.push(...decoder.push(bytes.subarray(start)));
  frames.push(...decoder.end());
  return frames;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Text without line breaks, drawn from ASCII, accents, CJK and emoji so cuts land inside multi-byte characters. */
const lineText = fc.string({
  unit: fc.constantFrom('a', 'Z', ' ', ':', '{', '"', 'é', 'ß', '世', '界', '🙂', '👍🏽', '\u0000'),
});

const sseEvent = fc.record({
  event: fc.option(fc.constantFrom('message_start', 'content_block_delta', 'ping', 'error'), { nil: undefined }),
  lines: fc.array(lineText, { minLength: 1, maxLength: 3 }).filter((lines) => lines.join('\n').length > 0),
  comment: fc.option(lineText, { nil: undefined }),
});

function cutsFor(length: number) {
  return fc.array(fc.integer({ min: 0, max: length }), { maxLength: Math.min(length, 40) });
}

describe('SseDecoder', () => {
  test('property: any chunking, any line ending, optional BOM gives the same events', () => {
    fc.assert(
      fc.property(
        fc.array(sseEvent, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        fc.nat(),
        (events, eol, bom, seed) => {
          const text =
            (bom ? BOM : '') +
            events
              .map(
                (e) =>
                  `${e.comment !== undefined ? `:${e.comment}${eol}` : ''}${e.event ? `event: ${e.event}${eol}` : ''}${e.lines.map((l) => `data: ${l}${eol}`).join('')}${eol}`,
              )
              .join('');
          const bytes = utf8(text);
          const cuts = fc.sample(cutsFor(bytes.length), { numRuns: 1, seed })[0]!;
          const frames = decode(new SseDecoder(), bytes, cuts);
          expect(frames).toEqual(events.map((e) => ({ event: e.event, data: e.lines.join('\n') })));
        },
      ),
      { numRuns: 400 },
    );
  });

  test('every single cut position of a CRLF stream with multi-byte text', () => {
    const text =
      'event: content_block_delta\r\ndata: {"text":"日本🙂"}\r\n\r\n: keep-alive\r\n\r\ndata: [DONE]\r\n\r\n';
    const bytes = utf8(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(decode(new SseDecoder(), bytes, [cut])).toEqual([
        { event: 'content_block_delta', data: '{"text":"日本🙂"}' },
        { event: undefined, data: '[DONE]' },
      ]);
    }
  });

  test('a last event without its blank line counts; a line cut off mid-way does not', () => {
    expect(decode(new SseDecoder(), utf8('data: a\n\ndata: [DONE]\n'), [])).toEqual([
      { event: undefined, data: 'a' },
      { event: undefined, data: '[DONE]' },
    ]);
    expect(decode(new SseDecoder(), utf8('data: a\n\ndata: {"cho'), [])).toEqual([{ event: undefined, data: 'a' }]);
  });

  test('comments alone produce no frames', () => {
    expect(decode(new SseDecoder(), utf8(': ping\n\n: ping\n\n'), [3])).toEqual([]);
  });
});

describe('NdjsonDecoder', () => {
  const jsonLine = fc
    .dictionary(fc.constantFrom('a', 'done', 'message'), fc.oneof(lineText, fc.integer(), fc.boolean()), { maxKeys: 3 })
    .map((o) => JSON.stringify(o));

  test('property: any chunking, LF or CRLF, optional BOM, blank lines ignored', () => {
    fc.assert(
      fc.property(
        fc.array(jsonLine, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        (lines, eol, bom, trailing, seed) => {
          const text = (bom ? BOM : '') + lines.join(`${eol}${eol}`) + (trailing ? eol : '');
          const bytes = utf8(text);
          const cuts = fc.sample(cutsFor(bytes.length), { numRuns: 1, seed })[0]!;
          expect(decode(new NdjsonDecoder(), bytes, cuts)).toEqual(lines.map((data) => ({ data })));
        },
      ),
      { numRuns: 400 },
    );
  });
});
