/**
 * A second extension for the E2E suite: it uses Flowgate's models the way
 * any extension would, through vscode.lm, and writes what it saw to
 * .lm-client/<command>.json in the workspace for the suite to check.
 */
import * as vscode from 'vscode';

const WEATHER_TOOL: vscode.LanguageModelChatTool = {
  name: 'get_weather',
  description: 'The weather in a city.',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('flowgateE2e.toolsAndCancel', () => record('tools-and-cancel', toolsAndCancel)),
    vscode.commands.registerCommand('flowgateE2e.burst', () => record('burst', burst)),
  );
}

async function record(name: string, scenario: () => Promise<unknown>): Promise<void> {
  let result: unknown;
  try {
    result = await scenario();
  } catch (error) {
    result = { error: describe(error) };
  }
  const folder = vscode.workspace.workspaceFolders![0]!.uri;
  const file = vscode.Uri.joinPath(folder, '.lm-client', `${name}.json`);
  await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(JSON.stringify(result, null, 2)));
}

async function model(id: string): Promise<{ all: vscode.LanguageModelChat[]; chosen: vscode.LanguageModelChat }> {
  const all = await vscode.lm.selectChatModels({ vendor: 'flowgate' });
  const chosen = all.find((m) => m.id === id);
  if (!chosen) throw new Error(`no Flowgate model "${id}" among ${all.map((m) => m.id).join(', ')}`);
  return { all, chosen };
}

/** Models listed; a tool call and its result round-trip; a cancelled request ends. */
async function toolsAndCancel(): Promise<unknown> {
  const { all, chosen } = await model('cloud');
  const ask = vscode.LanguageModelChatMessage.User('lm-client: weather in Oslo?');
  const first = await chosen.sendRequest([ask], { tools: [WEATHER_TOOL], modelOptions: { _internal: 1 } });
  const calls: vscode.LanguageModelToolCallPart[] = [];
  let firstText = '';
  for await (const part of first.stream) {
    if (part instanceof vscode.LanguageModelToolCallPart) calls.push(part);
    else if (part instanceof vscode.LanguageModelTextPart) firstText += part.value;
  }
  const call = calls[0];
  let secondText = '';
  if (call) {
    const second = await chosen.sendRequest(
      [
        ask,
        vscode.LanguageModelChatMessage.Assistant([call]),
        vscode.LanguageModelChatMessage.User([
          new vscode.LanguageModelToolResultPart(call.callId, [new vscode.LanguageModelTextPart('12 degrees, clear')]),
        ]),
      ],
      { tools: [WEATHER_TOOL] },
    );
    for await (const text of second.text) secondText += text;
  }
  return {
    models: all.map((m) => ({ id: m.id, name: m.name, family: m.family, maxInputTokens: m.maxInputTokens })),
    tokens: await chosen.countTokens('Hello, world'),
    calls: calls.map((c) => ({ callId: c.callId, name: c.name, input: c.input })),
    firstText,
    secondText,
    cancel: await cancelMidStream(chosen),
    failure: await failure(chosen),
  };
}

/** What a consumer sees of a request the server refuses: the error's name, code, message and stack. */
async function failure(chosen: vscode.LanguageModelChat): Promise<unknown> {
  try {
    const response = await chosen.sendRequest([vscode.LanguageModelChatMessage.User('a broken request')]);
    for await (const _ of response.text);
    return 'no error';
  } catch (error) {
    const { name, message, stack, code } = error as Error & { code?: unknown };
    return { name, message, stack, code };
  }
}

/** Cancels after the first words arrive; the stream must end, not hang. */
async function cancelMidStream(chosen: vscode.LanguageModelChat): Promise<unknown> {
  const source = new vscode.CancellationTokenSource();
  const response = await chosen.sendRequest(
    [vscode.LanguageModelChatMessage.User('lm-client: a slow answer please')],
    {},
    source.token,
  );
  let received = '';
  let cancelledAt = 0;
  let ended: string;
  try {
    for await (const text of response.text) {
      received += text;
      if (!cancelledAt) {
        cancelledAt = Date.now();
        source.cancel();
      }
    }
    ended = 'stream ended';
  } catch (error) {
    ended = describe(error);
  }
  return { received, cancelledAt, endedAfterMs: Date.now() - cancelledAt, ended };
}

/** Five requests at once on the paced endpoint, while the suite asks in Flowgate's panel. */
async function burst(): Promise<unknown> {
  const { chosen } = await model('paced');
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      const response = await chosen.sendRequest([vscode.LanguageModelChatMessage.User(`lm-client: burst ${i}`)]);
      let text = '';
      for await (const piece of response.text) text += piece;
      return text;
    }),
  );
  return { answers, ms: Date.now() - started };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
