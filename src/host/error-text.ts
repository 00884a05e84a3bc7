/**
 * Engine errors, said in the user's language. The engine's own messages are
 * English; here the host rebuilds the common ones from their fields, and
 * falls back to the English message for the rest.
 */
import { HttpError, ProviderError, RedirectError, describeSite, formatDuration, type FlowgateError } from '../core';
import type { Translate } from './monitor/status-format';

export function errorText(error: FlowgateError, t: Translate): string {
  const site =
    error.provider && error.origin ? describeSite({ provider: error.provider, origin: error.origin }) : t('The server');
  const providerMessage =
    error instanceof ProviderError || (error instanceof HttpError && !(error instanceof RedirectError))
      ? error.providerMessage
      : '';
  const said = providerMessage ? ` ${t('The server said: {0}', providerMessage.slice(0, 300))}` : '';
  switch (error.code) {
    case 'FLOWGATE_CANCELLED':
      return t('Stopped.');
    case 'FLOWGATE_AUTH':
      return (
        t(
          '{0} answered {1}: the API key for this endpoint is missing or wrong. Run "Flowgate: Set API Key".',
          site,
          error.status ?? 401,
        ) + said
      );
    case 'FLOWGATE_HTTP':
      return httpText(error, site, t) + waitText(error, t) + said;
    case 'FLOWGATE_TIMEOUT':
      return timeoutText(error as FlowgateError & { phase: string; timeoutMs: number }, site, t);
    case 'FLOWGATE_UNAVAILABLE':
      return t(
        '{0} is failing repeatedly, so Flowgate is holding requests back for a while. Check the server, or list other endpoints under "fallbacks" in its flowgate.endpoints entry.',
        site,
      );
    default:
      return error.message;
  }
}

function httpText(error: FlowgateError, site: string, t: Translate): string {
  if (error instanceof RedirectError) {
    const where = error.target ?? t('another address');
    return t(
      '{0} answered {1}, a redirect to {2}. Flowgate does not follow redirects, so your key stays with this endpoint; if the API has moved, put its new address in the base URL.',
      site,
      error.status ?? 302,
      where,
    );
  }
  return error.status === 429
    ? t('{0} is rate limiting requests ({1}).', site, 429)
    : t('{0} answered {1}.', site, error.status ?? '?');
}

/** How long the server asked to wait, when it said (a Retry-After of hours means a spent quota). */
function waitText(error: FlowgateError, t: Translate): string {
  const ms = error instanceof HttpError ? error.retryAfterMs : undefined;
  return ms === undefined ? '' : ` ${t('It asked to wait {0} before trying again.', formatDuration(ms))}`;
}

function timeoutText(error: { phase: string; timeoutMs: number }, site: string, t: Translate): string {
  const limit = formatDuration(error.timeoutMs);
  switch (error.phase) {
    case 'connect':
      return t(
        '{0} could not be connected to within {1}. Check that the server is running and reachable.',
        site,
        limit,
      );
    case 'firstToken':
      return t(
        '{0} sent no first token within {1}. If the model is loading or the prompt is long, raise flowgate.timeouts.firstTokenMs.',
        site,
        limit,
      );
    case 'idle':
      return t('{0} stopped sending tokens for {1} mid-answer. The stream stalled; try again.', site, limit);
    default:
      return t('{0} did not finish within {1}. Raise flowgate.timeouts.totalMs for long answers.', site, limit);
  }
}
