import { extname } from 'node:path';

/** The file's language for `{{language}}`, from its extension. */
const LANGUAGES: Record<string, string> = {
  '.ts': 'typescript',
  '.tsx': 'typescript',
  '.js': 'javascript',
  '.jsx': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.py': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.kt': 'kotlin',
  '.c': 'c',
  '.h': 'c',
  '.cc': 'cpp',
  '.cpp': 'cpp',
  '.hpp': 'cpp',
  '.cs': 'csharp',
  '.rb': 'ruby',
  '.php': 'php',
  '.swift': 'swift',
  '.scala': 'scala',
  '.sh': 'shell',
  '.sql': 'sql',
  '.md': 'markdown',
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.toml': 'toml',
  '.html': 'html',
  '.css': 'css',
  '.xml': 'xml',
  '.txt': 'text',
};

export function languageOf(path: string): string {
  return LANGUAGES[extname(path).toLowerCase()] ?? (extname(path).slice(1) || 'text');
}

/**
 * Fills a batch prompt for one file: `{{content}}`, `{{path}}` and
 * `{{language}}`. A template without `{{content}}` gets the content
 * appended, fenced, so a plain instruction works too.
 */
export function renderPrompt(template: string, file: { path: string; content: string }): string {
  const language = languageOf(file.path);
  const fill = (text: string): string =>
    text.replace(/\{\{\s*(content|path|language)\s*\}\}/g, (_, name: string) =>
      name === 'content' ? file.content : name === 'path' ? file.path : language,
    );
  if (/\{\{\s*content\s*\}\}/.test(template)) return fill(template);
  const ticks = '`'.repeat(Math.max(3, ...[...file.content.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fill(template)}\n\n${file.path}:\n${ticks}${language}\n${file.content}\n${ticks}`;
}

/**
 * The beginning every prompt of a job shares: the template up to its first
 * placeholder (all of it, and the blank line after, when the file's content
 * is appended), the part a provider can cache once for the whole run.
 */
export function sharedPrefix(template: string): string {
  const first = /\{\{\s*(content|path|language)\s*\}\}/.exec(template);
  if (first) return template.slice(0, first.index);
  return `${template}\n\n`;
}
