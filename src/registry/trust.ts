const ADDRESS = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5}$/;
const PEM = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n*$/;

/** Where Docker looks for the CA of a registry at host:port (read at each pull: no daemon restart). */
export const certsDirFor = (root: string, address: string) => `${root.replace(/\/+$/, '')}/${address}`;

/**
 * The shell line a joining server runs before `docker swarm join` so its engine trusts Berth's
 * registry: Berth's CA into /etc/docker/certs.d/<addr>/ca.crt. Built only from a checked address and
 * a checked PEM, carried base64-encoded (no quote or metacharacter can reach the shell).
 */
export function trustCommand(address: string, caPem: string): string {
  if (!ADDRESS.test(address)) throw new Error(`not a registry address: ${JSON.stringify(address)}`);
  if (!PEM.test(caPem)) throw new Error('the CA is not a PEM certificate');
  const dir = certsDirFor('/etc/docker/certs.d', address);
  return `mkdir -p ${dir} && echo ${Buffer.from(caPem).toString('base64')} | base64 -d > ${dir}/ca.crt`;
}
