import * as vscode from 'vscode';
import { FlowgateError, type ChatRequest, type FinishReason, type StreamEvent, type Usage } from '../../core';
import type { EngineHost } from '../endpoints/engine-host';
import { errorText } from '../error-text';
import type { CostGuard } from '../guards/cost-guard';
import { redactorFor } from '../guards/redaction';
import { requestLogLine } from '../chat/log-format';
import type { Settings } from '../settings/settings';
import type { EndpointSetting } from '../settings/settings-model';
import { FlowgateChatError, chatErrorCode } from './chat-error';
import { ModelOptionError, toChatRequest, type LmOptions } from './chat-request';
import type { ChatUsage } from './chat-usage';
import { limitsFor, modelInfoFor, type ModelInfo } from './model-info';
import { redactChatRequest } from './redact-request';
import { isOpenAiFamily, type TokenCounter } from './token-count';
import { ThinkingPart, toLmMessage } from './vscode-parts';

/** What one request from VS Code's chat did, for its log line, its cost and the usage totals. */
interface ChatRecord {
  usage: Usage;
  retries: number;
  ttftMs?: number;
  requestId?: string;
  cached: boolean;
  failedOverTo?: string;
  finish?: FinishReason;
  /** Whether anything reached the chat. */
  output: boolean;
}

/**
 * Every Flowgate endpoint as a model in VS Code's own chat (vendor
 * "flowgate"). Requests from the chat, from agent mode or from any extension
 * through vscode.lm go through the same client as the panel and the batch:
 * the same scheduler, quota, retries, failover, timeouts, cache, budget and
 * redaction, and the same status bar.
 */
export class ChatModelProvider implements vscode.LanguageModelChatProvider<ModelInfo>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;
  private readonly disposables: vscode.Disposable[];
  private published: string;
  private warnedRedaction = false;

  constructor(
    private readonly engine: EngineHost,
    settings: Settings,
    private readonly costs: CostGuard,
    private readonly usage: ChatUsage,
    private readonly tokens: TokenCounter,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.published = this.fingerprint();
    this.disposables = [this.changed, settings.onDidChange(() => this.refresh())];
  }

  /** Called with silent: true by VS Code's chat; it never prompts, whatever it is asked. */
  provideLanguageModelChatInformation(): ModelInfo[] {
    return this.models();
  }

  async provideLanguageModelChatResponse(
    model: ModelInfo,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    const setting = this.engine.settings.endpoints.find((e) => e.id === model.id);
    if (!setting)
      throw new FlowgateChatError(
        vscode.l10n.t('The Flowgate endpoint "{0}" is no longer in flowgate.endpoints.', model.id),
        'NotFound',
      );
    const refusal = this.costs.refusal();
    if (refusal) throw new FlowgateChatError(refusal, 'Blocked');
    const { request, params } = this.requestFor(setting, messages, options);
    const controller = new AbortController();
    const cancel = token.onCancellationRequested(() => controller.abort());
    if (token.isCancellationRequested) controller.abort();
    const record: ChatRecord = { usage: {}, retries: 0, cached: false, output: false };
    const started = performance.now();
    let outcome = 'ok';
    this.usage.started();
    try {
      const chain = await this.engine.endpointChain(setting);
      const endpoint = params ? { ...chain.endpoint, params: { ...chain.endpoint.params, ...params } } : chain.endpoint;
      const { timeouts, maxAttempts } = this.engine.settings;
      const chunks = this.engine.client.streamChunks(request, {
        endpoint,
        fallbacks: chain.fallbacks,
        signal: controller.signal,
        timeouts,
        maxAttempts,
        priority: 'interactive',
        cache: this.engine.cacheUse,
      });
      for await (const chunk of chunks) for (const event of chunk) this.report(event, progress, record, started);
      this.checkEnding(setting, record);
    } catch (error) {
      outcome = error instanceof FlowgateError ? error.code : error instanceof FlowgateChatError ? 'ENDED' : 'ERROR';
      throw this.chatError(error, token);
    } finally {
      cancel.dispose();
      await this.finish(setting, record, outcome, started);
    }
  }

  provideTokenCount(model: ModelInfo, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
    const openAi = isOpenAiFamily(model.version);
    const parts = typeof text === 'string' ? undefined : toLmMessage(text).parts;
    return Promise.resolve(
      parts ? this.tokens.countParts(parts, openAi) : this.tokens.countText(text as string, openAi),
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private models(): ModelInfo[] {
    return this.engine.settings.endpoints.map((e) => modelInfoFor(e, vscode.l10n.t));
  }

  /** Tells VS Code only when what it shows would change, not on every settings change. */
  private refresh(): void {
    const now = this.fingerprint();
    if (now === this.published) return;
    this.published = now;
    this.changed.fire();
  }

  private fingerprint(): string {
    return JSON.stringify(this.models());
  }

  private requestFor(
    setting: EndpointSetting,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions,
  ): { request: ChatRequest; params?: Record<string, unknown> } {
    const lmOptions: LmOptions = {
      tools: options.tools,
      toolMode: options.toolMode === vscode.LanguageModelChatToolMode.Required ? 'required' : 'auto',
      modelOptions: options.modelOptions,
    };
    let mapped;
    try {
      mapped = toChatRequest(messages.map(toLmMessage), lmOptions, setting.provider);
    } catch (error) {
      if (error instanceof ModelOptionError) throw new FlowgateChatError(error.message, 'FLOWGATE_CONFIG');
      throw error;
    }
    const request = this.redact(mapped.request);
    request.maxTokens ??= outputLimit(setting, mapped.params);
    return { request, params: mapped.params };
  }

  /**
   * flowgate.redaction.mode inside VS Code's chat. "redact" scrubs as in the
   * panel. "warn" cannot ask here (the chat is waiting, and an agent sends
   * requests on its own), so it scrubs too, and says so once per session.
   */
  private redact(request: ChatRequest): ChatRequest {
    const { mode } = this.engine.settings.redaction;
    if (mode === 'off') return request;
    const redactor = redactorFor(this.engine.settings, this.log);
    const { request: cleaned, redacted } = redactChatRequest(request, redactor);
    if (!redacted) return cleaned;
    this.log.info(`vscode-chat: ${redacted} value(s) replaced by placeholders before sending.`);
    if (mode === 'warn' && !this.warnedRedaction) {
      this.warnedRedaction = true;
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'Flowgate replaced {0} value(s) that look like secrets with placeholders in a request from VS Code\'s chat. It cannot ask there, so "warn" redacts; set flowgate.redaction.mode to "off" to send them as they are.',
          redacted,
        ),
      );
    }
    return cleaned;
  }

  private report(
    event: StreamEvent,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    record: ChatRecord,
    started: number,
  ): void {
    switch (event.type) {
      case 'text':
      case 'refusal':
        record.ttftMs ??= performance.now() - started;
        record.output = true;
        progress.report(new vscode.LanguageModelTextPart(event.text));
        break;
      case 'reasoning':
        if (!ThinkingPart) break;
        record.output = true;
        progress.report(new ThinkingPart(event.text, undefined, thinkingMetadata(event)) as never);
        break;
      case 'toolCall':
        record.output = true;
        progress.report(new vscode.LanguageModelToolCallPart(event.call.id, event.call.name, toolInput(event.call)));
        break;
      case 'usage':
        record.usage = { ...record.usage, ...definedOnly(event) };
        break;
      case 'response':
        record.requestId = event.requestId;
        record.cached = event.cached === true;
        break;
      case 'retry':
        record.retries++;
        this.log.info(`vscode-chat: ${event.message}`);
        break;
      case 'failover':
        record.failedOverTo = event.to;
        this.log.warn(`vscode-chat: ${event.message}`);
        break;
      case 'finish':
        record.finish = event.reason;
        break;
    }
  }

  /** An answer that did not end as an answer should: said as an error, after what was shown. */
  private checkEnding(setting: EndpointSetting, record: ChatRecord): void {
    if (record.finish === 'length')
      throw new FlowgateChatError(
        record.output
          ? vscode.l10n.t(
              'The answer was cut off at the output limit of {0} tokens. Raise maxOutputTokens for the endpoint "{1}" in flowgate.endpoints.',
              outputLimit(setting) ?? '?',
              setting.id,
            )
          : vscode.l10n.t(
              'No answer: the model used its whole output limit before answering (reasoning models think first). Raise maxOutputTokens for the endpoint "{0}" in flowgate.endpoints.',
              setting.id,
            ),
        'FLOWGATE_LENGTH',
      );
    if (record.finish === 'content_filter')
      throw new FlowgateChatError(
        vscode.l10n.t("The provider's content filter stopped the answer."),
        'FLOWGATE_FILTERED',
      );
  }

  private chatError(error: unknown, token: vscode.CancellationToken): Error {
    if (error instanceof FlowgateChatError) return error;
    if (token.isCancellationRequested || (error instanceof FlowgateError && error.code === 'FLOWGATE_CANCELLED'))
      return new vscode.CancellationError();
    if (error instanceof FlowgateError)
      return new FlowgateChatError(errorText(error, vscode.l10n.t), chatErrorCode(error.code));
    this.log.error(`vscode-chat: ${String(error)}`);
    return new FlowgateChatError(
      vscode.l10n.t(
        'Flowgate could not complete the request: {0}',
        error instanceof Error ? error.message : String(error),
      ),
      'FLOWGATE_INTERNAL',
    );
  }

  private async finish(setting: EndpointSetting, record: ChatRecord, outcome: string, started: number): Promise<void> {
    const answered =
      (record.failedOverTo && this.engine.settings.endpoints.find((e) => e.id === record.failedOverTo)) || setting;
    const cost = record.cached
      ? undefined
      : await this.costs.record(answered.model, record.usage).catch(() => undefined);
    this.usage.finished(outcome === 'ok' ? 'ok' : outcome === 'FLOWGATE_CANCELLED' ? 'cancelled' : 'failed', {
      ...record.usage,
      cost,
    });
    this.log.info(
      `source=vscode-chat ${requestLogLine({
        endpointId: answered.id,
        model: answered.model,
        outcome: record.cached ? `${outcome} (cached)` : outcome,
        totalMs: performance.now() - started,
        ttftMs: record.ttftMs,
        inputTokens: record.usage.inputTokens,
        outputTokens: record.usage.outputTokens,
        retries: record.retries,
        requestId: record.requestId,
      })}`,
    );
  }
}

/**
 * The output limit sent with a request from VS Code's chat: the endpoint's
 * maxOutputTokens when set. Anthropic needs one on every request, and the
 * engine's default of 4,096 would cut an agent's file edit short, so there it
 * is the model's advertised limit unless params sets max_tokens.
 */
function outputLimit(setting: EndpointSetting, extra?: Record<string, unknown>): number | undefined {
  if (setting.maxOutputTokens) return setting.maxOutputTokens;
  const paramsSetIt = setting.params?.max_tokens !== undefined || extra?.max_tokens !== undefined;
  return setting.provider === 'anthropic' && !paramsSetIt ? limitsFor(setting).maxOutputTokens : undefined;
}

/** The model's arguments as the object VS Code passes to the tool; text that is not JSON is a malformed call. */
function toolInput(call: { name: string; arguments: string }): object {
  try {
    const value: unknown = JSON.parse(call.arguments || '{}');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // reported below
  }
  throw new FlowgateChatError(
    vscode.l10n.t('The model called the tool "{0}" with arguments that are not a JSON object.', call.name),
    'FLOWGATE_PROTOCOL',
  );
}

/** Anthropic's signature and redacted blocks ride in the part's metadata, so they come back with the history. */
function thinkingMetadata(event: Extract<StreamEvent, { type: 'reasoning' }>): Record<string, unknown> | undefined {
  if (event.signature) return { signature: event.signature };
  if (event.redacted) return { redacted: [event.redacted] };
  return undefined;
}

function definedOnly(usage: Usage): Usage {
  const out: Usage = {};
  for (const [key, value] of Object.entries(usage) as [keyof Usage, number | undefined][])
    if (typeof value === 'number') out[key] = value;
  return out;
}
