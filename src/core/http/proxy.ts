/**
 * Which proxy, if any, the engine goes through. Explicit settings (VS Code's
 * http.proxy, http.noProxy, http.proxyStrictSSL) win over the environment's
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, which command-line users expect to be
 * honoured. Extra CA certificates come from NODE_EXTRA_CA_CERTS, which Node
 * itself applies to every TLS connection.
 */
export interface ProxyOptions {
  /** One proxy for every request, as VS Code's `http.proxy` gives it. */
  proxy?: string;
  /** Hosts that bypass the proxy, as VS Code's `http.noProxy` gives them. */
  noProxy?: string[];
  /** false accepts self-signed certificates from the proxy and through it (`http.proxyStrictSSL`). @default true */
  strictSSL?: boolean;
  /** Read HTTPS_PROXY / HTTP_PROXY / NO_PROXY when no proxy is set explicitly. @default true */
  useEnvironment?: boolean;
}

export interface ResolvedProxy {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  strictSSL: boolean;
}

export function resolveProxy(
  options: ProxyOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedProxy | undefined {
  const strictSSL = options.strictSSL ?? true;
  if (options.proxy) {
    return {
      httpProxy: options.proxy,
      httpsProxy: options.proxy,
      noProxy: joinNoProxy(options.noProxy, env),
      strictSSL,
    };
  }
  if (options.useEnvironment === false) return undefined;
  const httpProxy = env.http_proxy || env.HTTP_PROXY || undefined;
  const httpsProxy = env.https_proxy || env.HTTPS_PROXY || undefined;
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: joinNoProxy(options.noProxy, env), strictSSL };
}

function joinNoProxy(list: string[] | undefined, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.no_proxy || env.NO_PROXY || '';
  return [...(list ?? []), ...fromEnv.split(/[,\s]+/)].filter(Boolean).join(',');
}

/** Shows a proxy URL without its credentials, for messages and logs. */
export function describeProxy(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'the configured proxy';
  }
}
