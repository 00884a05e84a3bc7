import * as vscode from 'vscode';
import { parseEndpoints, type FlowgateSettings } from './settings-model';

export interface SettingsRead {
  settings: FlowgateSettings;
  problems: string[];
}

/**
 * Reads Flowgate's settings. In an untrusted workspace the endpoint settings
 * come from the user's own settings only: a cloned repository must not be
 * able to point an endpoint (and its key) somewhere else. package.json also
 * declares them restricted, which VS Code enforces; this is the second lock.
 */
export function readSettings(): SettingsRead {
  const config = vscode.workspace.getConfiguration('flowgate');
  const endpointsRaw = trustedValue<unknown>(config, 'endpoints');
  const { endpoints, problems } = parseEndpoints(endpointsRaw);
  const http = vscode.workspace.getConfiguration('http');
  const settings: FlowgateSettings = {
    endpoints,
    activeEndpoint: trustedValue<string>(config, 'activeEndpoint') || undefined,
    timeouts: {
      connectMs: config.get<number>('timeouts.connectMs'),
      firstTokenMs: config.get<number>('timeouts.firstTokenMs'),
      idleMs: config.get<number>('timeouts.idleMs'),
      totalMs: config.get<number>('timeouts.totalMs'),
    },
    maxAttempts: config.get<number>('retry.maxAttempts') ?? 4,
    redaction: {
      mode: (['off', 'warn', 'redact'] as const).find((m) => m === config.get<string>('redaction.mode')) ?? 'warn',
      patterns: (config.get<unknown[]>('redaction.patterns') ?? []).filter((p): p is string => typeof p === 'string'),
    },
    proxy: {
      proxy: http.get<string>('proxy') || undefined,
      noProxy: http.get<string[]>('noProxy') ?? [],
      strictSSL: http.get<boolean>('proxyStrictSSL') ?? true,
    },
  };
  return { settings, problems };
}

function trustedValue<T>(config: vscode.WorkspaceConfiguration, key: string): T | undefined {
  if (vscode.workspace.isTrusted) return config.get<T>(key);
  const inspected = config.inspect<T>(key);
  return inspected?.globalValue ?? inspected?.defaultValue;
}

export function affectsFlowgate(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration('flowgate') || event.affectsConfiguration('http.proxy') || event.affectsConfiguration('http.noProxy') || event.affectsConfiguration('http.proxyStrictSSL');
}
