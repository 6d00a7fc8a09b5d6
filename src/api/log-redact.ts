import type { FastifyRequest } from 'fastify';

/** Query parameters that carry credentials: a WebSocket's `token` (browsers cannot send headers there). */
const SECRET_PARAMS = new Set(['token', 'access_token', 'code', 'state']);

/** The URL with the values of credential-carrying query parameters replaced, for logs. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let key = name;
      try {
        key = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        /* a malformed name is logged as it came */
      }
      return SECRET_PARAMS.has(key.toLowerCase()) && eq >= 0 ? `${name}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

/** Fastify's request log serializer, with credentials taken out of the URL. */
export function requestForLog(req: FastifyRequest) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  };
}
