/**
 * Scrubs secrets and personal data from a prompt before it leaves the
 * machine. Each distinct value becomes a stable placeholder ([API_KEY_1],
 * [EMAIL_2], ...), so the model can still tell two keys apart and the
 * answer can refer to them. Matched values are never logged or returned in
 * the findings: only their kind and count.
 */

export type RedactionKind = 'API_KEY' | 'PRIVATE_KEY' | 'CARD' | 'EMAIL' | 'CUSTOM';

export interface RedactionRule {
  kind: RedactionKind;
  pattern: RegExp;
  /** Extra check on a match (the Luhn checksum for card numbers). */
  accept?: (match: string) => boolean;
}

/** Well-known token formats. Kept specific, so ordinary code and prose are left alone. */
export const BUILT_IN_RULES: readonly RedactionRule[] = [
  { kind: 'PRIVATE_KEY', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g },
  { kind: 'API_KEY', pattern: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b/g }, // OpenAI, Anthropic
  { kind: 'API_KEY', pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b/g }, // GitHub
  { kind: 'API_KEY', pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g }, // AWS access key id
  { kind: 'API_KEY', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g }, // Slack
  { kind: 'API_KEY', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g }, // Google
  { kind: 'API_KEY', pattern: /\b(?:sk|rk|pk)_live_[A-Za-z0-9]{20,}\b/g }, // Stripe
  { kind: 'API_KEY', pattern: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g }, // JWT
  { kind: 'CARD', pattern: /\b(?:\d[ -]?){12,18}\d\b/g, accept: (m) => luhnValid(m.replace(/[ -]/g, '')) },
  { kind: 'EMAIL', pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
];

export interface RedactionResult {
  text: string;
  /** How many distinct values of each kind were replaced. */
  found: Partial<Record<RedactionKind, number>>;
}

/** Card numbers are 13 to 19 digits whose Luhn checksum holds; most other long digit runs fail it. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** User patterns from settings; an invalid one is reported, not thrown. */
export function customRules(patterns: string[]): { rules: RedactionRule[]; invalid: string[] } {
  const rules: RedactionRule[] = [];
  const invalid: string[] = [];
  for (const source of patterns) {
    try {
      rules.push({ kind: 'CUSTOM', pattern: new RegExp(source, 'g') });
    } catch {
      invalid.push(source);
    }
  }
  return { rules, invalid };
}

/**
 * Replaces every match. The same value always gets the same placeholder
 * within one `Redactor`, so a conversation stays consistent across turns.
 */
export class Redactor {
  private readonly placeholders = new Map<string, string>();
  private readonly counters = new Map<RedactionKind, number>();

  constructor(private readonly rules: readonly RedactionRule[] = BUILT_IN_RULES) {}

  redact(text: string): RedactionResult {
    const found: Partial<Record<RedactionKind, number>> = {};
    const seen = new Set<string>();
    let result = text;
    for (const rule of this.rules) {
      result = result.replace(rule.pattern, (match) => {
        if (rule.accept && !rule.accept(match)) return match;
        if (!seen.has(match)) {
          seen.add(match);
          found[rule.kind] = (found[rule.kind] ?? 0) + 1;
        }
        return this.placeholderFor(rule.kind, match);
      });
    }
    return { text: result, found };
  }

  private placeholderFor(kind: RedactionKind, value: string): string {
    const key = `${kind}\u0000${value}`;
    let placeholder = this.placeholders.get(key);
    if (!placeholder) {
      const next = (this.counters.get(kind) ?? 0) + 1;
      this.counters.set(kind, next);
      placeholder = `[${kind}_${next}]`;
      this.placeholders.set(key, placeholder);
    }
    return placeholder;
  }
}

export function countFound(found: RedactionResult['found']): number {
  return Object.values(found).reduce((sum, n) => sum + (n ?? 0), 0);
}

/** "2 API keys, 1 email address": what would go, never the values themselves. */
export function describeFound(found: RedactionResult['found']): string {
  const names: Record<RedactionKind, [string, string]> = {
    API_KEY: ['API key', 'API keys'],
    PRIVATE_KEY: ['private key', 'private keys'],
    CARD: ['card number', 'card numbers'],
    EMAIL: ['email address', 'email addresses'],
    CUSTOM: ['custom match', 'custom matches'],
  };
  return Object.entries(found)
    .filter(([, n]) => n)
    .map(([kind, n]) => `${n} ${names[kind as RedactionKind][n === 1 ? 0 : 1]}`)
    .join(', ');
}
