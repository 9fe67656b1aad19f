/**
 * Parsers for the security variables of src/config.ts (pure). Each throws an `Error` whose message
 * completes "invalid configuration: VARIABLE …"; config.ts turns it into a `ConfigError`.
 */

/**
 * CORS_ORIGINS: origins allowed to call the API from a browser, comma-separated, each exactly as a
 * browser sends it (`https://app.example.com`, `http://localhost:3000`), or `*` for any.
 */
export function parseOrigins(raw: string): string[] {
  const origins = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const origin of origins) {
    if (origin === '*') {
      if (origins.length > 1) throw new Error('must be "*" alone or a list of origins, not both');
      continue;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new Error(
        `must list origins as scheme://host[:port] (no path, no trailing slash), got ${JSON.stringify(origin.slice(0, 100))}`,
      );
    }
  }
  return origins;
}

/**
 * TRUST_PROXY: whether to take the client address from X-Forwarded-For (for per-IP rate limits and
 * logs behind a load balancer): `false` (default), `true` (trust every hop: only when the port is
 * reachable from the proxy alone), or a comma list of the proxies' addresses / CIDRs (recommended).
 */
export function parseTrustProxy(raw: string): boolean | string {
  const value = raw.trim();
  if (value === 'false') return false;
  if (value === 'true') return true;
  const parts = value.split(',').map((s) => s.trim());
  if (parts.every((p) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(p) && /[.:]/.test(p))) return parts.join(',');
  throw new Error(
    `must be true, false or a comma list of proxy addresses / CIDRs, got ${JSON.stringify(value.slice(0, 100))}`,
  );
}
