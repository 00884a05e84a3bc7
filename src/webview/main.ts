import {
  isHostToWebview,
  type ChatTurn,
  type ContextChoice,
  type EndpointChoice,
  type HostToWebview,
  type NotableFinish,
  type ToolCallView,
  type WebviewToHost,
} from '../protocol';
import { StreamingMarkdown, renderMarkdown } from './markdown';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let strings: Record<string, string> = {};
const s = (key: string, ...args: string[]): string =>
  args.reduce((text, arg, i) => text.replace(`{${i}}`, arg), strings[key] ?? key);

/** One rendered turn: its elements and, while it streams, its markdown renderer. */
interface TurnView {
  root: HTMLElement;
  /** Reasoning, tool calls and a refusal: what the model said besides its answer. */
  extras: HTMLElement;
  thinking?: { details: HTMLDetailsElement; text: HTMLElement };
  refusal?: HTMLElement;
  answer: HTMLElement;
  notice: HTMLElement;
  footer: HTMLElement;
  markdown?: StreamingMarkdown;
}

const turns = new Map<string, TurnView>();
const app = document.getElementById('app') as HTMLElement;
let ui: ReturnType<typeof buildShell> | undefined;
let streamingId: string | undefined;

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isHostToWebview(event.data)) handle(event.data);
});
vscode.postMessage({ type: 'ready' });

function handle(message: HostToWebview): void {
  switch (message.type) {
    case 'init':
      if (Object.keys(message.strings).length) strings = message.strings;
      ui = buildShell();
      setEndpoints(message.endpoints, message.activeEndpoint);
      for (const turn of message.turns) addTurn(turn);
      setPendingContext(message.pendingContext);
      return updateEmpty();
    case 'endpoints':
      return setEndpoints(message.endpoints, message.activeEndpoint);
    case 'turnStart':
      addTurn(message.turn);
      return updateEmpty();
    case 'delta':
      return appendDelta(message.id, message.text);
    case 'reasoning':
      return appendReasoning(message.id, message.text);
    case 'toolCall':
      return addToolCall(message.id, message.call);
    case 'refusal':
      return showRefusal(message.id, message.text);
    case 'notice':
      return showNotice(message.id, message.text);
    case 'turnEnd':
      return endTurn(message.id, message.status, message.error, message.footer, message.finish);
    case 'cleared':
      turns.clear();
      ui?.messages.replaceChildren();
      setBusy(undefined);
      return updateEmpty();
    case 'pendingContext':
      return setPendingContext(message.label);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function iconButton(icon: string, title: string, onClick: () => void): HTMLButtonElement {
  const button = el('button', 'icon-button');
  button.title = title;
  button.setAttribute('aria-label', title);
  button.append(el('span', `codicon codicon-${icon}`));
  button.addEventListener('click', onClick);
  return button;
}

function buildShell() {
  const header = el('div', 'header');
  const endpoint = el('select', 'endpoint');
  endpoint.title = s('endpoint');
  endpoint.addEventListener('change', () => vscode.postMessage({ type: 'selectEndpoint', id: endpoint.value }));
  // New Chat, Stop and the rest live in the view's title bar, as in VS Code's own views.
  header.append(endpoint);

  const messages = el('div', 'messages');
  messages.setAttribute('role', 'log');
  messages.setAttribute('aria-live', 'polite');
  const empty = el('div', 'empty', s('empty'));

  const composer = el('div', 'composer');
  const attached = el('div', 'attached');
  const input = el('textarea', 'prompt');
  input.placeholder = s('placeholder');
  input.rows = 3;
  const context = el('select', 'context');
  context.title = s('context');
  for (const [value, label] of [
    ['none', s('contextNone')],
    ['selection', s('contextSelection')],
    ['file', s('contextFile')],
  ] as const) {
    const option = el('option', undefined, label);
    option.value = value;
    context.append(option);
  }
  const send = el('button', 'send', s('send'));
  const stop = el('button', 'stop secondary', s('stop'));
  stop.hidden = true;
  const submit = (): void => {
    const prompt = input.value;
    if (!prompt.trim() || streamingId) return;
    vscode.postMessage({ type: 'send', prompt, context: context.value as ContextChoice });
    input.value = '';
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  send.addEventListener('click', submit);
  stop.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  const actions = el('div', 'actions');
  actions.append(context, stop, send);
  composer.append(attached, input, actions);

  app.replaceChildren(header, messages, empty, composer);
  input.focus();
  return { endpoint, messages, empty, attached, input, send, stop };
}

function setEndpoints(endpoints: EndpointChoice[], active: string | undefined): void {
  if (!ui) return;
  ui.endpoint.replaceChildren(
    ...endpoints.map((e) => {
      const option = el('option', undefined, e.label);
      option.value = e.id;
      option.selected = e.id === active;
      return option;
    }),
  );
}

function setPendingContext(label: string | undefined): void {
  if (!ui) return;
  ui.attached.textContent = label ? s('attached', label) : '';
  ui.attached.hidden = !label;
  if (label) ui.input.focus();
}

function updateEmpty(): void {
  if (ui) ui.empty.hidden = turns.size > 0;
}

function setBusy(id: string | undefined): void {
  streamingId = id;
  if (!ui) return;
  ui.stop.hidden = !id;
  ui.send.hidden = !!id;
}

function addTurn(turn: ChatTurn): void {
  if (!ui) return;
  const root = el('div', 'turn');
  const question = el('div', 'question');
  question.append(el('div', 'who', s('you')), el('div', 'prompt-text', turn.prompt));
  if (turn.contextLabel) question.append(el('div', 'context-label', turn.contextLabel));
  const extras = el('div', 'extras');
  const answer = el('div', 'answer markdown');
  const notice = el('div', 'notice');
  notice.hidden = true;
  const footer = el('div', 'footer');
  const reply = el('div', 'reply');
  reply.append(el('div', 'who', s('assistant')), extras, answer, notice, footer);
  root.append(question, reply);
  ui.messages.append(root);
  const view: TurnView = { root, extras, answer, notice, footer };
  turns.set(turn.id, view);
  if (turn.reasoning) appendReasoning(turn.id, turn.reasoning, turn.status !== 'streaming' || !!turn.answer);
  for (const call of turn.toolCalls ?? []) addToolCall(turn.id, call);
  if (turn.refusal) showRefusal(turn.id, turn.refusal);
  if (turn.status === 'streaming') {
    view.markdown = new StreamingMarkdown(answer, decorate);
    if (turn.answer) view.markdown.append(turn.answer);
    else showNotice(turn.id, s('waiting'));
    setBusy(turn.id);
    // The user has just asked: show the question and what follows, wherever they had scrolled.
    return scrollToEnd(true);
  } else {
    answer.innerHTML = renderMarkdown(turn.answer);
    decorate(answer);
    showEnd(turn.id, view, turn.status, turn.error, turn.footer, turn.finish);
  }
  scrollToEnd();
}

function appendDelta(id: string, text: string): void {
  const view = turns.get(id);
  if (!view?.markdown) return;
  view.notice.hidden = true;
  // The answer has started: the thinking folds away, still there to open.
  if (view.thinking?.details.open && text) foldThinking(view);
  view.markdown.append(text);
  scrollToEnd();
}

/** A folded "Thinking" section above the answer, open while the model thinks. */
function appendReasoning(id: string, text: string, folded = false): void {
  const view = turns.get(id);
  if (!view) return;
  if (!view.thinking) {
    const details = el('details', 'thinking');
    const summary = el('summary');
    summary.append(el('span', 'codicon codicon-lightbulb'), el('span', 'thinking-label', s('thinking')));
    const body = el('div', 'thinking-text');
    details.append(summary, body);
    details.open = !folded;
    view.extras.prepend(details);
    view.thinking = { details, text: body };
    view.notice.hidden = true;
  }
  view.thinking.text.textContent += text;
  scrollToEnd();
}

function foldThinking(view: TurnView): void {
  if (!view.thinking) return;
  view.thinking.details.open = false;
}

/** A tool call the model asked for: its name and arguments. The panel runs no tools. */
function addToolCall(id: string, call: ToolCallView): void {
  const view = turns.get(id);
  if (!view) return;
  foldThinking(view);
  const box = el('div', 'tool-call');
  const head = el('div', 'tool-call-head');
  head.append(el('span', 'codicon codicon-tools'), el('span', undefined, s('toolCall', call.name)));
  box.append(head, el('pre', 'tool-call-args', prettyArguments(call.arguments)));
  view.extras.append(box);
  view.notice.hidden = true;
  scrollToEnd();
}

function prettyArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** What the model said instead of an answer, shown as a refusal rather than as an answer. */
function showRefusal(id: string, text: string): void {
  const view = turns.get(id);
  if (!view) return;
  foldThinking(view);
  if (!view.refusal) {
    view.refusal = el('div', 'refusal');
    view.extras.append(view.refusal);
  }
  const label = el('span', 'refusal-label', s('refused'));
  view.refusal.replaceChildren(el('span', 'codicon codicon-circle-slash'), label, el('span', 'refusal-text', text));
  view.notice.hidden = true;
}

function showNotice(id: string, text: string): void {
  const view = turns.get(id);
  if (!view) return;
  view.notice.textContent = text;
  view.notice.hidden = false;
}

function endTurn(
  id: string,
  status: ChatTurn['status'],
  error?: string,
  footer?: string,
  finish?: NotableFinish,
): void {
  const view = turns.get(id);
  if (!view) return;
  view.markdown?.finish();
  view.markdown = undefined;
  foldThinking(view);
  showEnd(id, view, status, error, footer, finish);
  if (streamingId === id) setBusy(undefined);
  scrollToEnd();
}

function showEnd(
  id: string,
  view: TurnView,
  status: ChatTurn['status'],
  error?: string,
  footer?: string,
  finish?: NotableFinish,
): void {
  view.notice.hidden = true;
  view.footer.replaceChildren();
  if (status === 'done' && finish) view.footer.append(endingNote(id, finish));
  if (status === 'error' && error) {
    const box = el('div', 'error');
    box.append(el('span', 'codicon codicon-error'), el('span', 'error-text', error));
    box.append(textButton(s('retry'), () => vscode.postMessage({ type: 'retry', id })));
    view.footer.append(box);
  } else if (status === 'stopped') {
    view.footer.append(el('span', 'muted', s('stopped')));
  } else if (footer) {
    view.footer.append(el('span', 'muted', footer));
  }
}

/** Why the answer ended, when it did not simply finish; a cut answer offers Continue. */
function endingNote(id: string, finish: NotableFinish): HTMLElement {
  const note = el('div', `ending ending-${finish}`);
  const words: Record<NotableFinish, [string, string]> = {
    length: ['fold-down', s('truncated')],
    content_filter: ['shield', s('contentFilter')],
    refusal: ['circle-slash', s('refusedEnding')],
    tool_calls: ['tools', s('toolCallsEnding')],
  };
  const [icon, text] = words[finish];
  note.append(el('span', `codicon codicon-${icon}`), el('span', 'ending-text', text));
  if (finish === 'length') note.append(textButton(s('continue'), () => vscode.postMessage({ type: 'continue', id })));
  return note;
}

function textButton(label: string, onClick: () => void): HTMLButtonElement {
  const button = el('button', 'secondary small', label);
  button.addEventListener('click', onClick);
  return button;
}

/** Code-block toolbars, and links that open through the host rather than in the webview. */
function decorate(block: HTMLElement): void {
  for (const pre of block.querySelectorAll<HTMLElement>('pre.code-block:not(.streaming):not([data-decorated])')) {
    pre.dataset.decorated = 'true';
    const code = pre.querySelector('code')?.textContent ?? '';
    const bar = el('div', 'code-actions');
    const copy = iconButton('copy', s('copy'), () => {
      vscode.postMessage({ type: 'copy', text: code });
      copy.title = s('copied');
    });
    bar.append(
      copy,
      iconButton('insert', s('insert'), () => vscode.postMessage({ type: 'insert', text: code })),
    );
    pre.prepend(bar);
  }
  for (const link of block.querySelectorAll<HTMLAnchorElement>('a[href]')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      vscode.postMessage({ type: 'openLink', href: link.getAttribute('href') ?? '' });
    });
  }
}

let scrollFrame = 0;
function scrollToEnd(force = false): void {
  if (!ui || scrollFrame) return;
  const messages = ui.messages;
  const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  if (!force && !nearBottom && streamingId) return; // the reader scrolled up: leave them there
  scrollFrame = requestAnimationFrame(() => {
    scrollFrame = 0;
    messages.scrollTop = messages.scrollHeight;
  });
}
