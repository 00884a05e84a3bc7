/**
 * How a failed request reaches VS Code's chat and other vscode.lm consumers.
 *
 * A provider's error crosses two RPC hops (extension host, workbench,
 * extension host). An error named "LanguageModelError" is re-created with
 * `new LanguageModelError(message, code)` at each hop, so it arrives with a
 * fresh stack of VS Code's internals, and Copilot Chat prints that stack
 * under the message as the "Reason". Any other error keeps the stack it was
 * sent with. So Flowgate's failures are sent as FlowgateChatErrors with an
 * empty stack: the chat shows Flowgate's message alone, and `code`
 * still tells a consumer what kind of failure it was, using
 * LanguageModelError's codes (NotFound, NoPermissions, Blocked) where one fits.
 */
export class FlowgateChatError extends Error {
  override readonly name = 'FlowgateChatError';

  constructor(
    message: string,
    /** A LanguageModelError code where one fits, else Flowgate's error code. */
    readonly code: string,
  ) {
    super(message);
    this.stack = '';
  }
}

/** LanguageModelError's codes for the engine's failures that have one; the rest keep Flowgate's code. */
export function chatErrorCode(flowgateCode: string): string {
  switch (flowgateCode) {
    case 'FLOWGATE_AUTH':
      return 'NoPermissions';
    case 'FLOWGATE_BUDGET':
      return 'Blocked';
    default:
      return flowgateCode;
  }
}
