import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { run, type RunResult } from '../../src/lib/exec.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { freePort } from './helpers.js';

export interface Pebble {
  directoryUrl: string;
  /** CA file that trusts pebble's own HTTPS listener (ROUTER_ACME_CA_FILE). */
  caFile: string;
  /** The root pebble signs issued certificates under (fetched from its management API). */
  issuingRoot(): Promise<string>;
  /** Points every name at another address in pebble's DNS (as a user's wrong DNS record would). */
  pointDnsAt(ipv4: string): Promise<void>;
  stop(): Promise<void>;
}

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca }), timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.end();
  });
}

/**
 * Debian's pebble (Let's Encrypt's test ACME server) with pebble-challtestsrv as its DNS, answering
 * every name with 127.0.0.1: HTTP-01 validation connects to httpPort on this machine. Every port is
 * random, so it runs beside other tests.
 */
export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-pebble-'));
  // Pebble's own listener needs a certificate; the Berth CA makes one, and its root is what the client trusts.
  const ca = await ensureCa(join(dir, 'listener-ca'));
  const leaf = await issueLeaf(ca, ['localhost']);
  await writeFile(join(dir, 'cert.pem'), leaf.certPem);
  await writeFile(join(dir, 'key.pem'), leaf.keyPem);
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const [listen, management, tlsPort, dns, dnsManagement] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const stopAll = new AbortController();
  const procs: Promise<RunResult>[] = [];
  const log: string[] = [];
  const start = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = run(cmd, args, { timeoutMs: 30 * 60_000, signal: stopAll.signal, env: { ...process.env, ...env }, onLine: (l) => log.push(`${cmd}: ${l}`) });
    p.catch(() => {});
    procs.push(p);
  };
  start('pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-dns01', `127.0.0.1:${dns}`, '-management', `127.0.0.1:${dnsManagement}`]);
  // No random sleeps or nonce rejections, and no reused authorizations: every order validates through the router.
  start('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
  const directoryUrl = `https://localhost:${listen}/dir`;
  const stop = async () => {
    stopAll.abort();
    await Promise.allSettled(procs);
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      await get(directoryUrl, ca.certPem);
      break;
    } catch (err) {
      if (i >= 100) {
        await stop();
        throw new Error(`pebble did not answer at ${directoryUrl}: ${(err as Error).message}\n${log.join('\n')}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pointDnsAt = async (ip: string) => {
    const res = await fetch(`http://127.0.0.1:${dnsManagement}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip }) });
    if (!res.ok) throw new Error(`pebble-challtestsrv refused the address: HTTP ${res.status}`);
  };
  return { directoryUrl, caFile, issuingRoot: () => get(`https://localhost:${management}/roots/0`, ca.certPem), pointDnsAt, stop };
}
