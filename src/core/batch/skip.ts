import { basename } from 'node:path';

export interface SkipRules {
  /** Files larger than this are not sent. @default 262_144 */
  maxBytes: number;
  /** Files whose prompt would be larger than this many tokens are not sent. @default 100_000 */
  maxTokens: number;
  /** Send files that look like secrets (.env, keys, certificates) anyway. @default false */
  allowSecrets: boolean;
  /** Send files that look binary anyway. @default false */
  allowBinary: boolean;
}

export const DEFAULT_SKIP_RULES: Readonly<SkipRules> = Object.freeze({
  maxBytes: 256 * 1024,
  maxTokens: 100_000,
  allowSecrets: false,
  allowBinary: false,
});

/** Names of files that usually hold credentials: never sent to a model unless the user says so. */
const SECRET_NAMES = [
  /^\.env(\..*)?$/i,
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|asc|gpg)$/i,
  /^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i,
  /^\.?(netrc|npmrc|pypirc|htpasswd|git-credentials)$/i,
  /^credentials(\.json)?$/i,
  /^secrets?\.(json|ya?ml|toml)$/i,
];

export function looksLikeSecret(path: string): boolean {
  const name = basename(path);
  return SECRET_NAMES.some((pattern) => pattern.test(name));
}

/** A NUL byte in the first 8 KB is how git and most editors tell binary from text. */
export function looksBinary(head: Uint8Array): boolean {
  return head.subarray(0, 8192).includes(0);
}

/** Why a file is skipped before it is read, or undefined to read it. */
export function skipBeforeReading(path: string, size: number, rules: SkipRules): string | undefined {
  if (!rules.allowSecrets && looksLikeSecret(path)) return 'looks like a secret (use --allow-secrets to send it)';
  if (size > rules.maxBytes) return `larger than ${rules.maxBytes} bytes (${size})`;
  return undefined;
}
