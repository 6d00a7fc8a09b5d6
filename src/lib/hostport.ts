const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?$/;

/** Why a value is not `host[:port]` (no scheme, no path), or null. */
export function hostPortProblem(host: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return `must not have a scheme (give ${host.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]}, not ${host})`;
  if (host.includes('/')) return 'must not have a path (give a host name with an optional port, like registry.example.com:5000)';
  if (!HOST.test(host.toLowerCase())) return `"${host}" is not a host name with an optional port`;
  const port = host.split(':')[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return 'port must be 1-65535';
  return null;
}
