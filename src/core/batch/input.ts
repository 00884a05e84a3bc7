import { open, stat } from 'node:fs/promises';
import { looksBinary, skipBeforeReading, type SkipRules } from './skip';

/** A file's text, or why it is not sent: a secret, too large, or binary. */
export async function readInput(path: string, rules: SkipRules): Promise<{ text: string } | { skip: string }> {
  const size = (await stat(path)).size;
  const reason = skipBeforeReading(path, size, rules);
  if (reason) return { skip: reason };
  const file = await open(path, 'r');
  try {
    const bytes = await file.readFile();
    if (!rules.allowBinary && looksBinary(bytes)) return { skip: 'looks binary (use --allow-binary to send it)' };
    return { text: bytes.toString('utf8') };
  } finally {
    await file.close();
  }
}
