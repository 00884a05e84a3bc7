import { ProtocolError } from '../errors';
import type { Frame, FrameDecoder } from './frame';

const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Newline-delimited JSON (Ollama): one frame per non-empty line; `\r\n` is accepted. */
export class NdjsonDecoder implements FrameDecoder {
  private readonly text = new TextDecoder('utf-8', { fatal: false });
  private pending = '';

  push(bytes: Uint8Array): Frame[] {
    return this.split(this.text.decode(bytes, { stream: true }));
  }

  end(): Frame[] {
    const frames = this.split(this.text.decode());
    const last = this.pending.trim();
    this.pending = '';
    if (last) frames.push({ data: last });
    return frames;
  }

  private split(chunk: string): Frame[] {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > MAX_LINE_CHARS) {
      throw new ProtocolError('The server sent a line longer than 16 MB; the stream is not valid NDJSON.');
    }
    const frames: Frame[] = [];
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed) frames.push({ data: trimmed });
    }
    return frames;
  }
}
