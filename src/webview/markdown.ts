import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { Marked } from 'marked';

const LANGUAGES = {
  bash,
  c,
  cpp,
  csharp,
  css,
  diff,
  go,
  java,
  javascript,
  json,
  markdown,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
};
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['js', 'jsx', 'mjs', 'cjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['cs'], { languageName: 'csharp' });
hljs.registerAliases(['rs'], { languageName: 'rust' });

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      const body =
        language && hljs.getLanguage(language)
          ? hljs.highlight(text, { language, ignoreIllegals: true }).value
          : escapeHtml(text);
      return `<pre class="code-block" data-lang="${escapeHtml(language)}"><code class="hljs">${body}</code></pre>`;
    },
  },
});

/**
 * Markdown to HTML that is safe to insert: model output may contain
 * `<img src=x onerror=...>`, `javascript:` links or `<script>`, and DOMPurify
 * removes every script-bearing part. The page's CSP is the second lock.
 */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    // Images are dropped: the panel loads no remote image (its CSP forbids it), so they would only show as broken.
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed', 'img'],
    FORBID_ATTR: ['style'],
  });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** A prose tail longer than this is frozen at a line break, so a model that never leaves a blank line cannot make every frame re-render it all. */
const MAX_TAIL = 16_384;

/**
 * Renders a growing markdown answer without re-rendering what is settled:
 * text up to the last blank line outside a code fence is rendered once and
 * frozen; only the tail is rendered again on each animation frame. Inside an
 * open code fence, new text is appended as plain text and highlighted once
 * the fence closes. So a 1 MB answer costs about as much as its last block.
 */
export class StreamingMarkdown {
  private settled = 0;
  private source = '';
  private readonly tail: HTMLElement;
  private frame = 0;
  /** Characters of markdown rendered so far: stays a small multiple of the answer's length. */
  renderedChars = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly decorate: (block: HTMLElement) => void,
  ) {
    this.tail = document.createElement('div');
    this.tail.className = 'md-tail';
    container.append(this.tail);
  }

  append(text: string): void {
    this.source += text;
    this.frame ||= requestAnimationFrame(() => this.renderFrame());
  }

  /** Renders everything now, as final. */
  finish(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.freeze(this.source.length);
    this.tail.replaceChildren();
  }

  private render(markdown: string): string {
    this.renderedChars += markdown.length;
    return renderMarkdown(markdown);
  }

  private renderFrame(): void {
    this.frame = 0;
    const split = settledEnd(this.source, this.settled);
    if (split > this.settled) this.freeze(split);
    const rest = this.source.slice(this.settled);
    if (openFence(rest)) this.renderOpenCode(rest);
    else this.setTail(this.render(rest));
  }

  private freeze(end: number): void {
    if (end <= this.settled) return;
    const block = document.createElement('div');
    block.className = 'md-block';
    block.innerHTML = this.render(this.source.slice(this.settled, end));
    this.decorate(block);
    this.container.insertBefore(block, this.tail);
    this.settled = end;
  }

  private setTail(html: string): void {
    this.tail.innerHTML = html;
    this.decorate(this.tail);
  }

  /** The prose before the fence renders as markdown; the code so far is plain text, appended. */
  private renderOpenCode(rest: string): void {
    const fenceAt = rest.search(/^ {0,3}(```|~~~)/m);
    const before = rest.slice(0, fenceAt);
    const code = rest.slice(rest.indexOf('\n', fenceAt) + 1);
    let pre = this.tail.querySelector<HTMLElement>('pre.streaming');
    if (!pre || this.tail.dataset.before !== String(before.length)) {
      this.setTail(this.render(before));
      pre = document.createElement('pre');
      pre.className = 'code-block streaming';
      pre.append(document.createElement('code'));
      this.tail.append(pre);
      this.tail.dataset.before = String(before.length);
    }
    const codeElement = pre.firstElementChild as HTMLElement;
    const shown = codeElement.textContent?.length ?? 0;
    if (code.length > shown) codeElement.append(code.slice(shown));
  }
}

/** Where the settled part of `source` may end: after the last blank line outside a fence, from `from` on. */
export function settledEnd(source: string, from: number): number {
  let inFence = false;
  let end = from;
  let lineStart = from;
  while (lineStart < source.length) {
    const newline = source.indexOf('\n', lineStart);
    if (newline === -1) break;
    const line = source.slice(lineStart, newline);
    if (FENCE.test(line)) inFence = !inFence;
    else if (!inFence && line.trim() === '' && lineStart > from) end = newline + 1;
    lineStart = newline + 1;
  }
  if (!inFence && source.length - end > MAX_TAIL) {
    const lastBreak = source.lastIndexOf('\n', source.length - 1);
    if (lastBreak > end) end = lastBreak + 1;
  }
  return end;
}

function openFence(text: string): boolean {
  let open = false;
  for (const line of text.split('\n')) if (FENCE.test(line)) open = !open;
  return open;
}
