import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import * as vscode from 'vscode';
import { formatDuration, type Endpoint, type JobQueue } from '../../core';
import {
  contained,
  countInputs,
  estimateBatch,
  inputFilter,
  jobIdOf,
  sharedJobIdOf,
  loadTokenCounter,
  mirrorTarget,
  refuseLinks,
  runBatch,
  writeAtomically,
  writeReport,
  type BatchEstimate,
  type BatchJob,
  type BatchReport,
  type BatchMode,
  compareModes,
  offersProviderBatches,
  type PromptCacheSetting,
} from '../../core/batch';
import type { EngineHost } from '../endpoints/engine-host';
import { endpointLabel, type EndpointSetting } from '../settings/settings-model';
import type { CostGuard } from '../guards/cost-guard';
import { redactorFor } from '../guards/redaction';
import {
  batchFailureText,
  besideName,
  excludeCheck,
  JOIN_NAME,
  joinCommand,
  joinRow,
  modeRow,
  progressMessage,
  promptCacheRow,
  reportMarkdown,
  summaryMessage,
  unfence,
  type OutputMode,
} from './batch-model';

interface Plan {
  folder: vscode.WorkspaceFolder;
  inputs: string[];
  template: string;
  endpoint: EndpointSetting;
  mode: OutputMode;
  outputFolder: string;
  concurrency: number;
  timeouts: { firstTokenMs: number; idleMs: number; totalMs: number };
  maxAttempts: number;
  allowSkipped: boolean;
  redact: boolean;
  /** Write a model's reasoning into each result, folded above the answer. */
  writeReasoning: boolean;
  /** One request per file now, the whole run as provider batches, or `auto` between them. */
  run: BatchMode;
  promptCache: PromptCacheSetting;
  /**
   * The shared batch this window works on with other processes that join
   * the same name (`flowgate batch --join`), through Redis; empty: alone.
   * A shared batch runs live, into a results folder every process can name.
   */
  join: string;
}

const t = vscode.l10n.t;

/**
 * "Flowgate: Run Prompt on Selected Files": pick files (Explorer selection
 * or a glob), a prompt or saved template, confirm the run settings with an
 * estimate, then run it with progress, cancel, a report and one-click retry.
 */
export class BatchCommand {
  constructor(
    private readonly engine: EngineHost,
    private readonly storage: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly costs: CostGuard,
  ) {}

  async run(uri?: unknown, uris?: unknown): Promise<void> {
    try {
      await this.pickAndRun(uri, uris);
    } catch (error) {
      // The engine's own words, as the CLI prints them: what happened and what to do.
      const text = batchFailureText(error, t);
      this.log.error(`batch: ${text}`);
      void vscode.window.showErrorMessage(text);
    }
  }

  private async pickAndRun(uri?: unknown, uris?: unknown): Promise<void> {
    const picked = (Array.isArray(uris) ? uris : uri instanceof vscode.Uri ? [uri] : []).filter(
      (u): u is vscode.Uri => u instanceof vscode.Uri && u.scheme === 'file',
    );
    const folder =
      (picked[0] && vscode.workspace.getWorkspaceFolder(picked[0])) ?? vscode.workspace.workspaceFolders?.[0];
    if (!folder) return void vscode.window.showWarningMessage(t('Open a folder to run a batch over its files.'));
    const inputs = picked.length ? picked.map((u) => u.fsPath) : await askGlob(folder);
    if (!inputs?.length) return;
    const template = await this.askPrompt();
    if (!template) return;
    const plan = await this.confirm(this.defaults(folder, inputs, template));
    if (plan) await this.execute(plan);
  }

  private defaults(folder: vscode.WorkspaceFolder, inputs: string[], template: string): Plan {
    const { batch, timeouts, maxAttempts, redaction } = this.engine.settings;
    return {
      folder,
      inputs,
      template,
      endpoint: this.engine.active!,
      mode: 'beside',
      outputFolder: batch.outputFolder,
      concurrency: batch.concurrency,
      timeouts: { firstTokenMs: timeouts.firstTokenMs, idleMs: timeouts.idleMs, totalMs: timeouts.totalMs },
      maxAttempts,
      allowSkipped: false,
      redact: redaction.mode !== 'off',
      writeReasoning: false,
      run: this.engine.active && offersProviderBatches(this.engine.active) ? batch.mode : 'live',
      promptCache: batch.promptCache,
      join: '',
    };
  }

  private async askPrompt(): Promise<string | undefined> {
    const { templates } = this.engine.settings.batch;
    const typeOwn = { label: `$(edit) ${t('Type a prompt…')}`, prompt: '' };
    const items = [
      typeOwn,
      ...Object.entries(templates).map(([name, prompt]) => ({ label: name, detail: prompt, prompt })),
    ];
    const choice =
      items.length > 1
        ? await vscode.window.showQuickPick(items, { placeHolder: t('Choose a saved prompt or type one') })
        : typeOwn;
    if (!choice) return undefined;
    if (choice.prompt) return choice.prompt;
    return vscode.window.showInputBox({
      title: t('Prompt for every file'),
      prompt: t(
        '{{content}}, {{path}} and {{language}} are filled in per file; without {{content}} the file is appended.',
      ),
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : t('The prompt cannot be empty.')),
    });
  }

  /** One screen with every setting and the dry-run estimate; Run starts, any other row changes that setting. */
  private async confirm(plan: Plan): Promise<Plan | undefined> {
    let workable: Plan | undefined;
    for (;;) {
      let estimate: BatchEstimate;
      try {
        estimate = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: t('Flowgate: estimating…') },
          () => estimateBatch(this.job(plan)),
        );
      } catch (error) {
        // A change that cannot run (an output folder holding the inputs) is shown and undone.
        if (!workable) throw error;
        void vscode.window.showErrorMessage(batchFailureText(error, t));
        plan = workable;
        continue;
      }
      workable = plan;
      const rows = this.rows(plan, estimate);
      const choice = await vscode.window.showQuickPick(rows, {
        title: t('Run the prompt on {0} file(s)?', estimate.toSend),
        ignoreFocusOut: true,
      });
      if (!choice) return undefined;
      if (choice.id === 'run') return plan;
      const changed = await this.change(choice.id, plan, estimate);
      if (changed) plan = changed;
    }
  }

  private rows(plan: Plan, estimate: BatchEstimate): (vscode.QuickPickItem & { id: string })[] {
    const { batch, prices } = this.engine.settings;
    const compared = compareModes(estimate, plan.endpoint, prices[plan.endpoint.model], batch.auto);
    const runs = plan.run === 'auto' ? compared.auto.mode : plan.run;
    const implied =
      runs === 'provider'
        ? t("within the provider's 24-hour window")
        : estimate.impliedMs === undefined
          ? t('no RPM/TPM set')
          : t("at least {0} at the endpoint's limits", formatDuration(estimate.impliedMs));
    const where = {
      beside: t('a new file beside each input'),
      mirror: t('folder {0}', plan.outputFolder),
      inPlace: t('in place, after you review the changes'),
    }[plan.mode];
    const skipped = estimate.skipped.length;
    return [
      {
        id: 'run',
        label: `$(play) ${t('Run')}`,
        description: t(
          '{0} files, {1} skipped · about {2} prompt tokens, up to {3} output tokens · {4}',
          estimate.toSend,
          skipped,
          estimate.inputTokens,
          estimate.maxOutputTokens,
          implied,
        ),
      },
      ...(estimate.failed.length
        ? [
            {
              id: 'failed',
              label: `$(warning) ${t('{0} missing or unreadable', estimate.failed.length)}`,
              description: estimate.failed
                .slice(0, 3)
                .map((f) => f.input)
                .join(', '),
            },
          ]
        : []),
      { id: 'endpoint', label: `$(server) ${t('Endpoint')}`, description: endpointLabel(plan.endpoint) },
      { id: 'output', label: `$(folder) ${t('Results')}`, description: where },
      { id: 'runMode', ...modeRow(plan.run, compared, plan.endpoint, t) },
      ...(this.engine.sharedWhere ? [{ id: 'join', ...joinRow(plan.join, this.engine.sharedWhere, t) }] : []),
      {
        id: 'promptCache',
        ...promptCacheRow(
          plan.promptCache,
          estimate,
          (runs === 'provider' ? compared.provider : compared.live)?.cost?.cacheSaving,
          t,
        ),
      },
      { id: 'concurrency', label: `$(dashboard) ${t('Concurrency')}`, description: String(plan.concurrency) },
      {
        id: 'timeouts',
        label: `$(watch) ${t('Timeouts per file')}`,
        description: t(
          'first token {0}, idle {1}, total {2}',
          formatDuration(plan.timeouts.firstTokenMs),
          formatDuration(plan.timeouts.idleMs),
          formatDuration(plan.timeouts.totalMs),
        ),
      },
      { id: 'retries', label: `$(refresh) ${t('Retries')}`, description: String(plan.maxAttempts - 1) },
      {
        id: 'reasoning',
        label: `$(lightbulb) ${plan.writeReasoning ? t('Reasoning written above each answer') : t('Answers only, no reasoning')}`,
        description: t('for reasoning models'),
      },
      {
        id: 'redact',
        label: `$(eye-closed) ${plan.redact ? t('Redaction on') : t('Redaction off')}`,
        description: t('{0} file(s) hold values that look like secrets or personal data', estimate.sensitive),
      },
      ...(skipped
        ? [
            {
              id: 'skipped',
              label: `$(shield) ${plan.allowSkipped ? t('Skip files that look like secrets or binary') : t('Also send the {0} skipped file(s)', skipped)}`,
              description: estimate.skipped
                .slice(0, 3)
                .map((s) => s.input)
                .join(', '),
            },
          ]
        : []),
    ];
  }

  private async change(id: string, plan: Plan, estimate: BatchEstimate): Promise<Plan | undefined> {
    switch (id) {
      case 'endpoint': {
        const pick = await vscode.window.showQuickPick(
          this.engine.settings.endpoints.map((e) => ({ label: e.id, description: `${e.provider} · ${e.model}`, e })),
          { placeHolder: t('Endpoint for this batch') },
        );
        // An endpoint without a batch API (Ollama) runs live.
        return pick && { ...plan, endpoint: pick.e, run: offersProviderBatches(pick.e) ? plan.run : 'live' };
      }
      case 'output': {
        const modes: { label: string; mode: OutputMode }[] = [
          { label: t('A new file beside each input ({0})', besideName('name', 'flowgate')), mode: 'beside' },
          { label: t('A mirror of the files under an output folder'), mode: 'mirror' },
          { label: t('In place, after reviewing the changes (undoable)'), mode: 'inPlace' },
        ];
        const pick = await vscode.window.showQuickPick(modes, { placeHolder: t('Where results go') });
        if (!pick) return undefined;
        // Other machines can only name a results folder: beside or in place, the run is this window's alone.
        if (pick.mode !== 'mirror') return { ...plan, mode: pick.mode, join: '' };
        const outputFolder = await vscode.window.showInputBox({
          prompt: t('Output folder, relative to {0}', plan.folder.name),
          value: plan.outputFolder,
        });
        return outputFolder ? { ...plan, mode: 'mirror', outputFolder } : undefined;
      }
      case 'concurrency':
        return askNumber(t('Files in flight at once'), plan.concurrency, 1, 64, (concurrency) => ({
          ...plan,
          concurrency,
        }));
      case 'retries':
        return askNumber(
          t('Retries per file after a 429, 5xx or refused connection'),
          plan.maxAttempts - 1,
          0,
          9,
          (retries) => ({ ...plan, maxAttempts: retries + 1 }),
        );
      case 'timeouts': {
        const value = await vscode.window.showInputBox({
          prompt: t('Seconds: first token, idle, total (0 turns one off)'),
          value: [plan.timeouts.firstTokenMs, plan.timeouts.idleMs, plan.timeouts.totalMs]
            .map((ms) => ms / 1000)
            .join(', '),
          validateInput: (v) =>
            /^\s*\d+(\.\d+)?\s*,\s*\d+(\.\d+)?\s*,\s*\d+(\.\d+)?\s*$/.test(v)
              ? undefined
              : t('Three numbers, separated by commas.'),
        });
        if (!value) return undefined;
        const [firstTokenMs, idleMs, totalMs] = value.split(',').map((v) => Math.round(Number(v) * 1000)) as [
          number,
          number,
          number,
        ];
        return { ...plan, timeouts: { firstTokenMs, idleMs, totalMs } };
      }
      case 'skipped':
        return estimate.skipped.length ? { ...plan, allowSkipped: !plan.allowSkipped } : undefined;
      case 'redact':
        return { ...plan, redact: !plan.redact };
      case 'reasoning':
        return { ...plan, writeReasoning: !plan.writeReasoning };
      case 'runMode': {
        if (!offersProviderBatches(plan.endpoint)) return undefined;
        const next: Record<BatchMode, BatchMode> = { live: 'provider', provider: 'auto', auto: 'live' };
        // A provider batch is one upload, not a queue to share.
        return { ...plan, run: next[plan.run], join: '' };
      }
      case 'join': {
        const join = await vscode.window.showInputBox({
          title: t('Share this batch with other windows and machines'),
          prompt: t(
            'A name for the shared batch (empty: this window alone). Every process that joins it with the same prompt and endpoint takes files from one queue.',
          ),
          value: plan.join || basename(plan.folder.uri.fsPath).replace(/[^\w.-]/g, '-'),
          ignoreFocusOut: true,
          validateInput: (v) =>
            !v || JOIN_NAME.test(v) ? undefined : t("Letters, digits, '.', '_' and '-', up to 100 characters."),
        });
        if (join === undefined) return undefined;
        return join ? { ...plan, join, mode: 'mirror', run: 'live' } : { ...plan, join: '' };
      }
      case 'promptCache': {
        const next: Record<PromptCacheSetting, PromptCacheSetting> = { off: '5m', '5m': '1h', '1h': 'off' };
        return { ...plan, promptCache: next[plan.promptCache] };
      }
      default:
        return undefined;
    }
  }

  private paths(plan: Plan): { outDir: string; journalDir: string; reportDir: string } {
    const root = plan.folder.uri.fsPath;
    const jobDir = join(
      this.storage.fsPath,
      'batch',
      jobIdOf({
        template: plan.template,
        endpoint: plan.endpoint,
        maxTokens: undefined,
        writeReasoning: plan.writeReasoning,
      }),
    );
    if (plan.mode === 'mirror') {
      const outDir = join(root, plan.outputFolder);
      return { outDir, journalDir: outDir, reportDir: outDir };
    }
    if (plan.mode === 'inPlace') return { outDir: join(jobDir, 'staged'), journalDir: jobDir, reportDir: jobDir };
    return { outDir: root, journalDir: jobDir, reportDir: jobDir };
  }

  private job(plan: Plan, endpoint: Endpoint = plan.endpoint, extra: Partial<BatchJob> = {}): BatchJob {
    const root = plan.folder.uri.fsPath;
    const suffix = this.engine.settings.batch.outputSuffix;
    const excludes = excludeCheck(
      vscode.workspace.getConfiguration('files', plan.folder.uri).get<Record<string, unknown>>('exclude') ?? {},
      root,
    );
    const { outDir, journalDir } = this.paths(plan);
    const beside = plan.mode === 'beside';
    return {
      inputs: plan.inputs,
      cwd: root,
      outDir,
      journalDir,
      template: plan.template,
      endpoint: { ...endpoint, concurrency: plan.concurrency },
      timeouts: plan.timeouts,
      maxAttempts: plan.maxAttempts,
      concurrency: plan.concurrency,
      skip: { allowSecrets: plan.allowSkipped, allowBinary: plan.allowSkipped },
      // Beside-the-input results share the workspace with the inputs; a mirror folder is its own.
      excludeOutDir: !beside,
      // Results beside their inputs must not come back as inputs on the next run.
      ignore: beside ? (path, dir) => excludes(path, dir) || (!dir && path.endsWith(`.${suffix}.md`)) : excludes,
      target: beside
        ? (input) => contained(root, relative(root, join(dirname(input), besideName(basename(input), suffix))))
        : (input) => mirrorTarget(input, root, outDir),
      countTokens: loadTokenCounter(),
      cache: this.engine.cacheUse,
      promptCache: plan.promptCache,
      auto: this.engine.settings.batch.auto,
      writeReasoning: plan.writeReasoning,
      // The estimate always counts sensitive files; the run redacts only when asked to.
      redactor: plan.redact || !extra.signal ? redactorFor(this.engine.settings, this.log) : undefined,
      ...extra,
    };
  }

  private async execute(plan: Plan): Promise<void> {
    if (!(await this.costs.allow())) return;
    const { endpoint, fallbacks } = await this.engine.endpointChain(plan.endpoint);
    const paths = this.paths(plan);
    const reportMd = join(paths.reportDir, 'report.md');
    await refuseLinks(paths.reportDir, reportMd); // before anything is paid for
    const queue = plan.join ? await this.joinQueue(plan, endpoint) : undefined;
    const report = await this.runWithProgress(plan, endpoint, fallbacks, queue).finally(() => queue?.close());
    await this.finishRun(plan, paths, reportMd, report);
  }

  /** Runs the batch under a cancellable notification with its progress. */
  private async runWithProgress(
    plan: Plan,
    endpoint: Endpoint,
    fallbacks: Endpoint[],
    queue: JobQueue | undefined,
  ): Promise<BatchReport> {
    const title = plan.join ? t('Flowgate batch, shared as "{0}"', plan.join) : t('Flowgate batch');
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        const job = this.job(plan, endpoint, {
          signal: controller.signal,
          countTokens: undefined,
          fallbacks,
          mode: plan.run,
        });
        const total = await countInputs(job.inputs, job.cwd, inputFilter(job));
        let reported = 0;
        return runBatch(this.engine.client, {
          ...job,
          queue,
          onNotice: (text) => {
            this.log.warn(`batch: ${text}`);
            // What auto chose, what a stopped provider batch cost, or that it could not be stopped: for the person too.
            if (plan.run !== 'live') void vscode.window.showInformationMessage(text);
          },
          onProgress: (p, item) => {
            // A shared job moves with every process's work, not only this window's.
            const finished = p.shared ? p.shared.recorded : p.done + p.failed + p.skipped;
            progress.report({
              message: progressMessage(p, total, t),
              increment: ((finished - reported) / Math.max(1, p.shared?.total ?? total)) * 100,
            });
            reported = finished;
            if (item) this.log.info(`batch ${item.status} ${item.input}${item.error ? `: ${item.error}` : ''}`);
            if (item?.status === 'ok' && !item.resumed) {
              // The budget's hard stop: no new items once it is spent.
              void this.costs.record(plan.endpoint.model, item).then(() => this.costs.blocked() && controller.abort());
            }
          },
        });
      },
    );
  }

  private async finishRun(
    plan: Plan,
    paths: { reportDir: string; outDir: string },
    reportMd: string,
    report: BatchReport,
  ): Promise<void> {
    // Items requested in this run (not those resumed from an earlier one) at the configured prices.
    const cost = report.items
      .filter((i) => i.status === 'ok' && !i.resumed)
      .reduce((sum, i) => sum + (this.costs.costOf(plan.endpoint.model, i) ?? 0), 0);
    if (cost > 0) report.summary.cost = Math.round(cost * 1e6) / 1e6;
    const saved = report.items
      .filter((i) => i.status === 'ok' && !i.resumed)
      .reduce((sum, i) => sum + (this.costs.savingOf(plan.endpoint.model, i) ?? 0), 0);
    if (saved > 0) report.summary.cacheSaving = Math.round(saved * 1e6) / 1e6;
    await writeReport(paths.reportDir, report);
    await writeAtomically(paths.reportDir, reportMd, reportMarkdown(report, t));
    if (plan.mode === 'inPlace') await this.reviewInPlace(plan, report, paths.outDir);
    await this.announce(plan, report, reportMd);
  }

  /**
   * Joins the shared batch `plan.join` on the configured Redis, and offers
   * the command that lets another machine join it from the same folder.
   */
  private async joinQueue(plan: Plan, endpoint: Endpoint): Promise<JobQueue> {
    const sending = { redact: plan.redact, allowSecrets: plan.allowSkipped, allowBinary: plan.allowSkipped };
    const queue = await this.engine.sharedQueue(plan.join, sharedJobIdOf(this.job(plan, endpoint), sending));
    const joining = t('Working on the shared batch "{0}" with every process that joins it.', plan.join);
    // The CLI has no way to send an endpoint's extra params or headers: only other windows can join such a job.
    const { params, headers } = plan.endpoint;
    if ((params && Object.keys(params).length) || (headers && Object.keys(headers).length)) {
      void vscode.window.showInformationMessage(
        `${joining} ${t('Other windows join it with the same name; the flowgate CLI cannot, as endpoint {0} sets params or headers.', plan.endpoint.id)}`,
      );
      return queue;
    }
    const root = plan.folder.uri.fsPath;
    const command = joinCommand({
      ...plan,
      redisUrl: this.engine.settings.sharedState.redisUrl,
      endpoint: plan.endpoint,
      inputs: plan.inputs.map((input) => relative(root, input).split(sep).join('/') || '.'),
    });
    this.log.info(`batch: shared as "${plan.join}"; other machines join from ${plan.folder.name} with: ${command}`);
    const copy = t('Copy Command for Other Machines');
    void vscode.window.showInformationMessage(joining, copy).then((choice) => {
      if (choice === copy) void vscode.env.clipboard.writeText(command);
    });
    return queue;
  }

  /** In-place results go through a WorkspaceEdit that VS Code shows for review and can undo. */
  private async reviewInPlace(plan: Plan, report: BatchReport, stagedDir: string): Promise<void> {
    const edit = new vscode.WorkspaceEdit();
    const root = plan.folder.uri.fsPath;
    for (const item of report.items.filter((i) => i.status === 'ok' && i.output)) {
      const target = vscode.Uri.file(join(root, item.input));
      const answer = await readFile(join(stagedDir, item.output!), 'utf8').catch(() => undefined);
      if (answer === undefined) continue;
      const document = await vscode.workspace.openTextDocument(target);
      const whole = new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
      edit.replace(target, whole, unfence(answer), { label: t('Flowgate batch'), needsConfirmation: true });
    }
    if (edit.size) await vscode.workspace.applyEdit(edit, { isRefactoring: true });
  }

  private async announce(plan: Plan, report: BatchReport, reportMd: string): Promise<void> {
    const openReport = t('Open Report');
    const retry = t('Retry Failed');
    const retryAsBatch = t('Retry Failed as Provider Batch');
    // A shared batch retries through its queue (the failures of every process go back on it), live.
    const retries = offersProviderBatches(plan.endpoint) && !plan.join ? [retry, retryAsBatch] : [retry];
    const buttons = report.summary.failed ? [openReport, ...retries] : [openReport];
    const show = report.summary.failed ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const choice = await show(summaryMessage(report, t), ...buttons);
    if (choice === openReport) await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(reportMd));
    // The journal skips everything that finished ok, so running the same job again retries exactly the failures:
    // live (whatever the first run was), or as a new provider batch at the batch price.
    if (choice === retry) await this.execute({ ...plan, run: 'live' });
    if (choice === retryAsBatch) await this.execute({ ...plan, run: 'provider' });
  }
}

async function askGlob(folder: vscode.WorkspaceFolder): Promise<string[] | undefined> {
  const glob = await vscode.window.showInputBox({
    title: t('Run a prompt on files matching a glob'),
    prompt: t('Relative to {0}; files.exclude applies.', folder.name),
    value: '**/*.{ts,js,py}',
    ignoreFocusOut: true,
  });
  if (!glob) return undefined;
  const found = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, glob));
  if (!found.length) void vscode.window.showInformationMessage(t('No file matches {0}.', glob));
  return found.map((u) => u.fsPath).sort();
}

async function askNumber(
  prompt: string,
  value: number,
  min: number,
  max: number,
  apply: (n: number) => Plan,
): Promise<Plan | undefined> {
  const text = await vscode.window.showInputBox({
    prompt,
    value: String(value),
    validateInput: (v) =>
      /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max
        ? undefined
        : t('A whole number from {0} to {1}.', min, max),
  });
  return text === undefined ? undefined : apply(Number(text));
}
