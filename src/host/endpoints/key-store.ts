import type * as vscode from 'vscode';
import { parseStoredKey, secretName, type StoredKey } from './keys';

/** API keys in VS Code's SecretStorage (the OS keychain), each bound to the origin it was entered for. */
export class KeyStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async get(endpointId: string): Promise<StoredKey | undefined> {
    return parseStoredKey(await this.secrets.get(secretName(endpointId)));
  }

  async set(endpointId: string, origin: string, key: string): Promise<void> {
    await this.secrets.store(secretName(endpointId), JSON.stringify({ origin, key } satisfies StoredKey));
  }

  async delete(endpointId: string): Promise<void> {
    await this.secrets.delete(secretName(endpointId));
  }

  onDidChange(listener: () => void): vscode.Disposable {
    return this.secrets.onDidChange(listener);
  }
}
