import { NetworkError, TimeoutError, describeSite, type ErrorSite, type FlowgateError } from '../errors';

interface ErrnoLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** Node and undici error codes, mapped to what a person should do. */
const BEFORE_SEND_HINTS: Record<string, string> = {
  ECONNREFUSED: 'refused the connection; is the server running on that port?',
  ENOTFOUND: 'could not be found: the host name does not resolve; check the base URL',
  EAI_AGAIN: 'could not be resolved right now (DNS lookup failed); check the network',
  EHOSTUNREACH: 'is unreachable from this machine; check the network or VPN',
  ENETUNREACH: 'is unreachable: no network route; check the network or VPN',
  ECONNABORTED: 'aborted the connection while it was being set up',
};

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT)/;

/**
 * Turns a low-level failure (undici or Node) into a NetworkError or the
 * connect TimeoutError. `sent` says whether the request had been written,
 * which decides whether repeating it could run the prompt twice.
 */
export function toNetworkError(error: unknown, site: ErrorSite, sent: boolean, connectMs: number): FlowgateError {
  const code = errorCode(error);
  const where = describeSite(site);
  const proxyStatus = /Proxy response \((\d+)\)/.exec(messageOf(error));
  if (proxyStatus) {
    return new NetworkError(
      `The proxy refused to connect to ${where} (it answered ${proxyStatus[1]}); check the proxy setting (http.proxy or HTTPS_PROXY) and its credentials`,
      {
        site,
        beforeSend: true,
        retryable: false,
        cause: error,
      },
    );
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new TimeoutError('connect', connectMs, { site, cause: error });
  if (code && BEFORE_SEND_HINTS[code]) {
    return new NetworkError(`${where} ${BEFORE_SEND_HINTS[code]} (${code})`, {
      site,
      beforeSend: true,
      systemCode: code,
      cause: error,
    });
  }
  if (code && TLS_CODE.test(code)) {
    return new NetworkError(
      `${where}: the TLS handshake failed (${code}); check the certificate or use the right scheme`,
      {
        site,
        beforeSend: true,
        retryable: false,
        systemCode: code,
        cause: error,
      },
    );
  }
  const phase = sent ? 'while the answer was on its way' : 'before the request was sent';
  const detail = code ? ` (${code})` : '';
  return new NetworkError(`${where} closed the connection ${phase}${detail}; try again`, {
    site,
    beforeSend: !sent,
    systemCode: code,
    cause: error,
  });
}

function messageOf(error: unknown): string {
  const message = (error as ErrnoLike | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

/** The most specific code in an error and its causes. */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const candidate = current as ErrnoLike;
    if (typeof candidate.code === 'string' && candidate.code !== 'UND_ERR_SOCKET') return candidate.code;
    current = candidate.cause;
  }
  return typeof (error as ErrnoLike)?.code === 'string' ? ((error as ErrnoLike).code as string) : undefined;
}
