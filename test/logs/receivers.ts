import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '../support/wait.js';

export interface Tls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/**
 * Debian's rsyslogd as a test-owned process: its own config in `dir`, imtcp with TLS (gtls, RFC 5425)
 * on a loopback port, every message written to a file with the RFC 5424 fields it parsed.
 */
export class Rsyslog {
  private proc: ChildProcess | null = null;
  readonly out: string;
  private readonly conf: string;

  constructor(
    private readonly dir: string,
    readonly port: number,
    tls: Tls,
  ) {
    mkdirSync(join(dir, 'work'), { recursive: true });
    for (const [name, pem] of [['ca.pem', tls.caPem], ['cert.pem', tls.certPem], ['key.pem', tls.keyPem]]) writeFileSync(join(dir, name), pem, { mode: 0o600 });
    this.out = join(dir, 'out.log');
    this.conf = join(dir, 'rsyslog.conf');
    writeFileSync(this.conf, `
global(workDirectory="${dir}/work" defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="${dir}/ca.pem" defaultNetstreamDriverCertFile="${dir}/cert.pem" defaultNetstreamDriverKeyFile="${dir}/key.pem")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="${port}")
template(name="drain" type="string" string="%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
action(type="omfile" file="${this.out}" template="drain")
`);
  }

  async start(): Promise<void> {
    let log = '';
    const p = spawn('rsyslogd', ['-n', '-f', this.conf, '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (c: Buffer) => (log += c));
    p.stderr!.on('data', (c: Buffer) => (log += c));
    this.proc = p;
    await waitFor(`rsyslogd to listen on ${this.port}`, async () => {
      if (p.exitCode !== null) throw new Error(`rsyslogd exited with ${p.exitCode}: ${log}`);
      return answers(this.port);
    }, { timeoutMs: 20_000, intervalMs: 100 });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = null;
  }

  /** Parsed lines: hostname, app-name, procid, msgid, structured data, message. */
  lines(): { host: string; app: string; procid: string; msgid: string; sd: string; msg: string }[] {
    let text: string;
    try {
      text = readFileSync(this.out, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((l) => {
      const [host, app, procid, msgid, sd, ...rest] = l.split('|');
      return { host, app, procid, msgid, sd, msg: rest.join('|').trim() };
    });
  }
}

/** An HTTPS receiver of NDJSON batches; answers `status` (a test changes it to play a receiver that is down). */
export class NdjsonReceiver {
  status = 200;
  readonly got: { url: string; auth: string | undefined; type: string | undefined; body: string }[] = [];
  private server: Server;

  constructor(tls: Tls) {
    this.server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.status === 200) this.got.push({ url: req.url!, auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
        res.writeHead(this.status).end();
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as { port: number }).port)));
  }

  records(): Record<string, unknown>[] {
    return this.got.flatMap((g) => g.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}
