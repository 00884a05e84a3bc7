/**
 * An API key is stored with the origin it was entered for and is only ever
 * sent there. If the endpoint's base URL later points elsewhere (a workspace's
 * .vscode/settings.json, say), the key stays home.
 */
import { endpointOrigin, type Endpoint } from '../../core';
import { engineEndpoint, type EndpointSetting } from '../settings/settings-model';

export interface StoredKey {
  origin: string;
  key: string;
}

export type KeyLookup = { key: string } | { key?: undefined; movedFrom?: string };

export function keyForEndpoint(endpoint: Endpoint, stored: StoredKey | undefined): KeyLookup {
  if (!stored) return {};
  const origin = endpointOrigin(endpoint);
  return stored.origin === origin ? { key: stored.key } : { movedFrom: stored.origin };
}

/** The engine's endpoint for a setting, with the key stored for it when it was stored for this very origin. */
export function endpointWithKey(
  setting: EndpointSetting,
  stored: StoredKey | undefined,
): { endpoint: Endpoint; movedFrom?: string } {
  const endpoint = engineEndpoint(setting);
  const lookup = keyForEndpoint(endpoint, stored);
  if (lookup.key) return { endpoint: { ...endpoint, apiKey: lookup.key } };
  return 'movedFrom' in lookup ? { endpoint, movedFrom: lookup.movedFrom } : { endpoint };
}

export function parseStoredKey(text: string | undefined): StoredKey | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<StoredKey>;
    return typeof value.origin === 'string' && typeof value.key === 'string'
      ? { origin: value.origin, key: value.key }
      : undefined;
  } catch {
    return undefined;
  }
}

export function secretName(endpointId: string): string {
  return `flowgate.apiKey.${endpointId}`;
}
