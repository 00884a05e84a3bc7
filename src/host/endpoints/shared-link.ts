import * as vscode from 'vscode';
import {
  ConfigError,
  JobQueue,
  connectRedisState,
  redisWhere,
  type LlmClient,
  type RedisSharedState,
} from '../../core';

const PASSWORD_SECRET = 'flowgate.sharedState.redisPassword';

/**
 * The window's link to the Redis named by flowgate.sharedState.redisUrl.
 * It connects on the first request after the setting names one (never at
 * activation), in the background: requests go on in-process meanwhile. A
 * Redis that cannot be used is said once, with what to do; a Redis lost
 * later is said once in a warning, and again when it is back. The password
 * lives in the OS keychain, bound to the Redis it was entered for.
 */
export class SharedLink implements vscode.Disposable {
  private url = '';
  private state: RedisSharedState | undefined;
  /** The connection under way or made to the configured Redis; rejects with why it cannot be used. */
  private connecting: Promise<RedisSharedState> | undefined;
  private readonly clients = new Set<LlmClient>();
  private generation = 0;

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Keeps `client` sharing through the Redis `url` names (none when empty). */
  follow(client: LlmClient, url: string): void {
    if (url !== this.url) this.switchTo(url);
    if (this.clients.has(client)) return;
    this.clients.add(client);
    if (this.state) client.shareThrough(this.state);
  }

  /**
   * The shared batch queue `name` for the job `jobId`, on the configured
   * Redis (connecting first if need be): this window then works on the job
   * with every process that joins the same name.
   */
  async queue(name: string, jobId: string): Promise<JobQueue> {
    if (!this.url || !this.connecting)
      throw new ConfigError(
        vscode.l10n.t('Set flowgate.sharedState.redisUrl to share a batch with other windows and machines.'),
      );
    // A Redis that could not be reached before may be back: a failed connection is tried again.
    const connecting = this.connecting;
    const state = await connecting.catch(() => {
      if (this.connecting === connecting) this.switchTo(this.url);
      return this.connecting ?? connecting;
    });
    return JobQueue.open(state, name, jobId);
  }

  /** Stores the password for the configured Redis (only that one is ever sent it), then reconnects. */
  async setPassword(): Promise<void> {
    const url = this.url;
    if (!url) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('Set flowgate.sharedState.redisUrl first: the password is kept for that Redis.'),
      );
      return;
    }
    const where = redisWhere(url);
    const password = await vscode.window.showInputBox({
      title: vscode.l10n.t('Redis password for {0}', where),
      prompt: vscode.l10n.t('Stored in the OS keychain and sent only to {0}.', where),
      password: true,
      ignoreFocusOut: true,
    });
    if (password === undefined) return;
    await this.secrets.store(PASSWORD_SECRET, JSON.stringify({ where, password }));
    this.switchTo('');
    this.switchTo(url);
  }

  dispose(): void {
    this.switchTo('');
  }

  private switchTo(url: string): void {
    const generation = ++this.generation;
    for (const client of this.clients) client.shareThrough(undefined);
    void this.state?.close();
    this.state = undefined;
    this.connecting = undefined;
    this.url = url;
    if (url) {
      this.connecting = this.open(url);
      void this.connect(this.connecting, url, generation);
    }
  }

  private async open(url: string): Promise<RedisSharedState> {
    const stored = JSON.parse((await this.secrets.get(PASSWORD_SECRET)) ?? '{}') as {
      where?: string;
      password?: string;
    };
    return connectRedisState(url, {
      password: stored.where === redisWhere(url) ? stored.password : undefined,
      onNotice: (text) => {
        this.log.warn(text);
        void vscode.window.showWarningMessage(text);
      },
    });
  }

  private async connect(connecting: Promise<RedisSharedState>, url: string, generation: number): Promise<void> {
    try {
      const where = redisWhere(url);
      const state = await connecting;
      if (generation !== this.generation) return void state.close();
      this.state = state;
      for (const client of this.clients) client.shareThrough(state);
      this.log.info(`Limits are shared through ${where}.`);
    } catch (error) {
      if (generation !== this.generation) return;
      const text = error instanceof Error ? error.message : String(error);
      this.log.error(`Shared limits: ${text}`);
      const open = vscode.l10n.t('Open Settings');
      const password = vscode.l10n.t('Set Redis Password');
      const choice = await vscode.window.showErrorMessage(
        vscode.l10n.t('Flowgate cannot share limits through Redis: {0} Limits stay in this window.', text),
        open,
        password,
      );
      if (choice === open)
        await vscode.commands.executeCommand('workbench.action.openSettings', 'flowgate.sharedState.redisUrl');
      if (choice === password) await this.setPassword();
    }
  }
}
