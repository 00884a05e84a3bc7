import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  FlowgateError,
  formatCost,
  formatDuration,
  type ChatMessage,
  type Redactor,
  type StreamEvent,
} from '../../core';
import type { CostGuard } from '../guards/cost-guard';
import type { ChatTurn, ContextChoice, HostToWebview } from '../../protocol';
import { DeltaBatcher } from './delta-batcher';
import { TurnOutput } from './turn-output';
import type { EngineHost } from '../endpoints/engine-host';
import { errorText } from '../error-text';
import { requestLogLine } from './log-format';
import { endpointLabel, type EndpointSetting } from '../settings/settings-model';
import { applyRedaction, redactorFor } from '../guards/redaction';

const HISTORY_KEY = 'flowgate.chat.turns';
/** Earlier turns sent with a new prompt, so the model has the conversation. */
const HISTORY_SENT = 20;
/** Turns kept across reloads. */
const HISTORY_KEPT = 100;
/** A whole file attached as context is cut here. */
const MAX_CONTEXT_CHARS = 200_000;

/** What one turn's request did, for its footer and its log line. */
interface TurnRecord {
  ttftMs?: number;
  retries: number;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
  requestId?: string;
  cached: boolean;
  /** The endpoint the call failed over to, when it did. */
  failedOverTo?: string;
}

interface PendingContext {
  label: string;
  text: string;
}

/**
 * The conversation: turns, the one request in flight, and what the panel is
 * told. The panel may come and go; it is re-initialised from here.
 */
export class ChatController implements vscode.Disposable {
  private turns: ChatTurn[];
  private running: { id: string; controller: AbortController; batcher: DeltaBatcher } | undefined;
  private pendingContext: PendingContext | undefined;
  /** Context sent with each turn of this session, for Retry; not persisted. */
  private readonly contextTexts = new Map<string, string>();
  private post: (message: HostToWebview) => void = () => {};
  /** One per conversation, so a value keeps its placeholder from turn to turn. */
  private redactor: Redactor | undefined;
  private readonly busyChanged = new vscode.EventEmitter<boolean>();
  readonly onDidChangeBusy = this.busyChanged.event;

  /** What this conversation has cost so far. */
  private chatCost = 0;

  constructor(
    private readonly engine: EngineHost,
    private readonly state: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
    private readonly costs: CostGuard,
  ) {
    this.turns = state
      .get<ChatTurn[]>(HISTORY_KEY, [])
      .map((turn) => (turn.status === 'streaming' ? { ...turn, status: 'stopped' } : turn));
  }

  /** The panel is ready: send it everything it shows. */
  attach(post: (message: HostToWebview) => void, strings: Record<string, string>): void {
    this.post = post;
    post({
      type: 'init',
      strings,
      ...this.endpointList(),
      turns: this.turns,
      pendingContext: this.pendingContext?.label,
    });
  }

  detach(): void {
    this.post = () => {};
  }

  refreshEndpoints(): void {
    this.post({ type: 'endpoints', ...this.endpointList() });
  }

  /** "Ask Flowgate": the next prompt carries this selection. */
  setPendingContext(context: PendingContext | undefined): void {
    this.pendingContext = context;
    this.post({ type: 'pendingContext', label: context?.label });
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  async send(prompt: string, choice: ContextChoice): Promise<void> {
    if (this.running || !prompt.trim()) return;
    const context = this.pendingContext ?? gatherContext(choice);
    this.setPendingContext(undefined);
    const turn: ChatTurn = { id: randomUUID(), prompt, contextLabel: context?.label, answer: '', status: 'streaming' };
    this.turns.push(turn);
    if (context) this.contextTexts.set(turn.id, context.text);
    this.post({ type: 'turnStart', turn });
    await this.run(turn, context?.text);
  }

  /** Asks the model to go on after an answer the token limit cut off; the history carries what it wrote. */
  async continue(id: string): Promise<void> {
    const turn = this.turns.find((t) => t.id === id);
    if (!turn || this.running || turn.finish !== 'length') return;
    await this.send(vscode.l10n.t('Continue exactly where you stopped.'), 'none');
  }

  /** Asks the failed turn's question again, as a new turn; the failed one stays in the history. */
  async retry(id: string): Promise<void> {
    const turn = this.turns.find((t) => t.id === id);
    if (!turn || this.running || turn.status === 'streaming') return;
    const fresh: ChatTurn = {
      id: randomUUID(),
      prompt: turn.prompt,
      contextLabel: turn.contextLabel,
      answer: '',
      status: 'streaming',
    };
    const contextText = this.contextTexts.get(id);
    if (contextText) this.contextTexts.set(fresh.id, contextText);
    this.turns.push(fresh);
    this.post({ type: 'turnStart', turn: fresh });
    await this.run(fresh, contextText);
  }

  stop(): void {
    this.running?.controller.abort();
  }

  newChat(): void {
    this.stop();
    this.turns = [];
    this.redactor = undefined;
    this.chatCost = 0;
    this.contextTexts.clear();
    void this.state.update(HISTORY_KEY, []);
    this.post({ type: 'cleared' });
  }

  dispose(): void {
    this.stop();
    this.busyChanged.dispose();
  }

  private async run(turn: ChatTurn, contextText: string | undefined): Promise<void> {
    const setting = this.engine.active;
    if (!setting)
      return this.finish(turn, 'error', vscode.l10n.t('No endpoint is configured. Add one to flowgate.endpoints.'));
    const controller = new AbortController();
    const batcher = new DeltaBatcher((text) => this.post({ type: 'delta', id: turn.id, text }));
    const output = new TurnOutput(turn, (message) => this.post(message), this.engine.settings.chat.showReasoning);
    this.running = { id: turn.id, controller, batcher };
    this.busyChanged.fire(true);
    const started = performance.now();
    const record: TurnRecord = { retries: 0, cached: false };
    let outcome = 'ok';
    try {
      if (!(await this.costs.allow())) {
        outcome = 'FLOWGATE_BUDGET';
        return this.finish(
          turn,
          'error',
          vscode.l10n.t(
            'Not sent: the budget is spent. Raise flowgate.budget.daily or flowgate.budget.monthly, or allow it for today.',
          ),
        );
      }
      const chain = await this.engine.endpointChain(setting);
      const { timeouts, maxAttempts, redaction } = this.engine.settings;
      this.redactor ??= redactorFor(this.engine.settings, this.log);
      const prepared = await applyRedaction(redaction.mode, this.redactor, {
        prompt: turn.prompt,
        context: contextText,
      });
      if (!prepared) {
        outcome = 'CANCELLED_BY_USER';
        return this.finish(turn, 'stopped');
      }
      if (prepared.redacted)
        this.post({
          type: 'notice',
          id: turn.id,
          text: vscode.l10n.t('{0} value(s) replaced by placeholders before sending.', prepared.redacted),
        });
      turn.sentPrompt = prepared.prompt;
      const chunks = this.engine.client.streamChunks(
        { messages: this.messagesFor(turn, prepared.context) },
        {
          ...chain,
          signal: controller.signal,
          timeouts,
          maxAttempts,
          priority: 'interactive',
          cache: this.engine.cacheUse,
        },
      );
      for await (const chunk of chunks)
        for (const event of chunk) this.apply(turn, event, { batcher, output }, record, started);
      output.flush();
      batcher.flush();
      const seconds = formatDuration(performance.now() - started);
      const redactedNote = prepared.redacted ? vscode.l10n.t('{0} redacted', prepared.redacted) : undefined;
      const cachedNote = record.cached ? vscode.l10n.t('cached') : undefined;
      // After a failover the answer, and its price, are the fallback's model's.
      const model = this.answeredBy(setting, record).model;
      const cost = record.cached ? undefined : await this.costs.record(model, record);
      if (cost !== undefined) this.chatCost += cost;
      const costNote =
        cost === undefined ? undefined : vscode.l10n.t('{0} (chat {1})', formatCost(cost), formatCost(this.chatCost));
      const cacheNote = record.cachedInputTokens
        ? promptCacheNote(record.cachedInputTokens, this.costs.savingOf(model, record))
        : undefined;
      this.finish(
        turn,
        'done',
        undefined,
        [
          model,
          seconds,
          record.outputTokens === undefined ? undefined : vscode.l10n.t('{0} tokens', record.outputTokens),
          costNote,
          cacheNote,
          redactedNote,
          cachedNote,
        ]
          .filter(Boolean)
          .join(' · '),
      );
    } catch (error) {
      batcher.flush();
      const failure = error instanceof FlowgateError ? error : undefined;
      outcome = failure?.code ?? 'ERROR';
      const stopped = failure?.code === 'FLOWGATE_CANCELLED';
      this.finish(
        turn,
        stopped ? 'stopped' : 'error',
        stopped ? undefined : failure ? errorText(failure, vscode.l10n.t) : String(error),
      );
    } finally {
      batcher.dispose();
      output.dispose();
      this.running = undefined;
      this.busyChanged.fire(false);
      const { cached, failedOverTo: _, ...timings } = record;
      const answered = this.answeredBy(setting, record);
      this.log.info(
        requestLogLine({
          endpointId: answered.id,
          model: answered.model,
          outcome: cached ? `${outcome} (cached)` : outcome,
          totalMs: performance.now() - started,
          ...timings,
        }),
      );
    }
  }

  private answeredBy(setting: EndpointSetting, record: TurnRecord): EndpointSetting {
    return (record.failedOverTo && this.engine.settings.endpoints.find((e) => e.id === record.failedOverTo)) || setting;
  }

  private apply(
    turn: ChatTurn,
    event: StreamEvent,
    { batcher, output }: { batcher: DeltaBatcher; output: TurnOutput },
    record: TurnRecord,
    started: number,
  ): void {
    if (output.apply(event)) return;
    switch (event.type) {
      case 'text':
        record.ttftMs ??= performance.now() - started;
        turn.answer += event.text;
        output.flush(); // the reasoning reaches the panel before the answer that follows it
        batcher.push(event.text);
        break;
      case 'retry':
      case 'failover':
        if (event.type === 'retry') record.retries++;
        else record.failedOverTo = event.to;
        batcher.flush();
        this.post({ type: 'notice', id: turn.id, text: localizedNotice(event) });
        break;
      case 'usage':
        record.inputTokens = event.inputTokens ?? record.inputTokens;
        record.outputTokens = event.outputTokens ?? record.outputTokens;
        record.cachedInputTokens = event.cachedInputTokens ?? record.cachedInputTokens;
        record.cacheWriteInputTokens = event.cacheWriteInputTokens ?? record.cacheWriteInputTokens;
        break;
      case 'response':
        record.requestId = event.requestId;
        record.cached = event.cached === true;
        break;
    }
  }

  private finish(turn: ChatTurn, status: ChatTurn['status'], error?: string, footer?: string): void {
    turn.status = status;
    turn.error = error;
    turn.footer = footer;
    this.post({ type: 'turnEnd', id: turn.id, status, error, footer, finish: turn.finish });
    void this.state.update(HISTORY_KEY, this.turns.slice(-HISTORY_KEPT));
  }

  private messagesFor(turn: ChatTurn, contextText: string | undefined): ChatMessage[] {
    const earlier = this.turns.filter((t) => t !== turn && t.status === 'done' && t.answer).slice(-HISTORY_SENT);
    const messages: ChatMessage[] = earlier.flatMap((t) => [
      { role: 'user' as const, content: t.sentPrompt ?? t.prompt },
      { role: 'assistant' as const, content: t.answer },
    ]);
    const prompt = turn.sentPrompt ?? turn.prompt;
    messages.push({ role: 'user', content: contextText ? `${contextText}\n\n${prompt}` : prompt });
    return messages;
  }

  private endpointList(): { endpoints: { id: string; label: string }[]; activeEndpoint?: string } {
    return {
      endpoints: this.engine.settings.endpoints.map((e) => ({ id: e.id, label: endpointLabel(e) })),
      activeEndpoint: this.engine.active?.id,
    };
  }
}

function localizedNotice(event: Extract<StreamEvent, { type: 'retry' | 'failover' }>): string {
  if (event.type === 'failover') return vscode.l10n.t('{0} failed; trying {1}.', event.from, event.to);
  const seconds = formatDuration(event.delayMs);
  const reason = event.error.status === 429 ? vscode.l10n.t('rate limited') : vscode.l10n.t('request failed');
  return vscode.l10n.t('{0}, retrying in {1} (attempt {2} of {3})', reason, seconds, event.attempt, event.maxAttempts);
}

/** The selection or the whole file of the active editor, fenced with its language. */
export function gatherContext(choice: ContextChoice): PendingContext | undefined {
  const editor = vscode.window.activeTextEditor;
  if (choice === 'none' || !editor) return undefined;
  const document = editor.document;
  const name = vscode.workspace.asRelativePath(document.uri);
  if (choice === 'selection' && !editor.selection.isEmpty) {
    const lines = editor.selection.end.line - editor.selection.start.line + 1;
    return {
      label: vscode.l10n.t('selection in {0} ({1} lines)', name, lines),
      text: fence(name, document.languageId, document.getText(editor.selection)),
    };
  }
  const text = document.getText().slice(0, MAX_CONTEXT_CHARS);
  return { label: vscode.l10n.t('file {0}', name), text: fence(name, document.languageId, text) };
}

function fence(name: string, language: string, text: string): string {
  const longestRun = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longestRun + 1);
  return `${name}:\n${ticks}${language}\n${text}\n${ticks}`;
}

/** "1,024 prompt tokens from the provider's cache, saved $0.0012": what its prompt cache did for this answer. */
function promptCacheNote(tokens: number, saving: number | undefined): string {
  return saving
    ? vscode.l10n.t('{0} cached prompt tokens, saved {1}', tokens, formatCost(saving))
    : vscode.l10n.t('{0} cached prompt tokens', tokens);
}
