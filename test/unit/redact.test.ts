import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { LlmClient, Redactor, customRules, BUILT_IN_RULES, describeFound, luhnValid } from '../../src/core';
import { runBatch } from '../../src/core/batch';
import { useServer } from './helpers';

const { server } = useServer();
const OPENAI_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const PRIVATE_KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----';

describe('Redactor', () => {
  test('replaces keys, private keys, Luhn-valid cards and emails with stable placeholders', () => {
    const redactor = new Redactor();
    const { text, found } = redactor.redact(
      `key ${OPENAI_KEY} again ${OPENAI_KEY}\n${PRIVATE_KEY}\ncard 4111 1111 1111 1111, mail ann@example.com, aws AKIAABCDEFGHIJKLMNOP`,
    );
    expect(text).toBe(
      'key [API_KEY_1] again [API_KEY_1]\n[PRIVATE_KEY_1]\ncard [CARD_1], mail [EMAIL_1], aws [API_KEY_2]',
    );
    expect(found).toEqual({ API_KEY: 2, PRIVATE_KEY: 1, CARD: 1, EMAIL: 1 });
    expect(describeFound(found)).toBe('1 private key, 2 API keys, 1 card number, 1 email address');
    // The same value keeps its placeholder in the next turn of the conversation.
    expect(redactor.redact(`still ${OPENAI_KEY}`).text).toBe('still [API_KEY_1]');
  });

  test('leaves ordinary code and numbers alone', () => {
    const code =
      'const timeoutMs = 1234567890123; // not a card\nfunction sk(x) { return x; }\nconst id = "12345678901234";';
    expect(new Redactor().redact(code)).toEqual({ text: code, found: {} });
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });

  test('user patterns; an invalid one is reported, not thrown', () => {
    const { rules, invalid } = customRules(['INTERNAL-\\d{6}', '(unclosed']);
    expect(invalid).toEqual(['(unclosed']);
    expect(new Redactor([...BUILT_IN_RULES, ...rules]).redact('ticket INTERNAL-123456').text).toBe('ticket [CUSTOM_1]');
  });
});

test('batch: a redacted secret never reaches the server, and the report counts it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-redact-'));
  const client = new LlmClient();
  try {
    writeFileSync(join(dir, 'config.ts'), `export const key = '${OPENAI_KEY}';\n`);
    writeFileSync(join(dir, 'plain.ts'), 'export const x = 1;\n');
    const report = await runBatch(client, {
      inputs: ['.'],
      cwd: dir,
      outDir: join(dir, 'out'),
      template: 'Review',
      endpoint: { provider: 'ollama', baseUrl: server().origin, model: 'm' },
      redactor: new Redactor(),
    });
    expect(JSON.stringify(server().requests.map((r) => r.body))).not.toContain(OPENAI_KEY);
    expect(JSON.stringify(server().requests.map((r) => r.body))).toContain('[API_KEY_1]');
    expect(report.items.find((i) => i.input === 'config.ts')?.redacted).toBe(1);
    expect(report.summary.redacted).toBe(1);
    expect(JSON.stringify(report)).not.toContain(OPENAI_KEY);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flowgate chat --redact: the server sees placeholders, stderr says what kind, never the value', async () => {
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      'chat',
      '--provider',
      'ollama',
      '--base-url',
      server().origin,
      '--model',
      'm',
      '--redact',
      `my key is ${OPENAI_KEY}`,
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  expect(code).toBe(0);
  expect((server().requests[0]?.body.messages as { content: string }[])[0]?.content).toBe('my key is [API_KEY_1]');
  expect(stderr).toBe('flowgate: redacted before sending: 1 API key\n');
});
