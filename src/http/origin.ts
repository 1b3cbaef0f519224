/**
 * The key of a per-origin pool: scheme, host and port, as in the URL spec's "origin".
 * Credentials, path and query never take part, so a URL with a password in it cannot
 * leak that password into a pool key, a stats label, an error message or a log line.
 */
export interface Origin {
  /** `http:` or `https:`. */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP address, without brackets for IPv6. */
  readonly hostname: string;
  /** Port number; the scheme's default when the URL had none. */
  readonly port: number;
  /** `https://example.com:443`: the pool key and the label in stats and messages. */
  readonly key: string;
}

/**
 * Parses the origin of `url` (a string, a `URL`, or an origin such as `http://host:8080`).
 * @throws {TypeError} for a URL that does not parse or whose scheme is not http or https.
 * @example
 * originOf('https://user:secret@api.example.com/v1').key // 'https://api.example.com:443'
 */
export function originOf(url: string | URL): Origin {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch (error) {
    // The input may hold credentials: name only what is safe to show.
    throw new TypeError('Expected an absolute http(s) URL', { cause: error });
  }
  const protocol = u.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new TypeError(
      `Expected an http: or https: URL, got the scheme ${JSON.stringify(protocol)}`,
    );
  }
  const port = u.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(u.port);
  const host = u.hostname;
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  return { protocol, hostname, port, key: `${protocol}//${host}:${port}` };
}
