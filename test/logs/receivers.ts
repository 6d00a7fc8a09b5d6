import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { waitFor } from '../support/wait.js';

export interface Tls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A loopback port below the kernel's ephemeral range: no connect() and no listen(0) of another test
 * is given it, so it stays free while rsyslogd is stopped and started again on it.
 */
function portBelowEphemeral(): number {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const from = Math.max(1024, low - 12_000);
  return from + Math.floor(Math.random() * (low - from));
}

/** Whether process `pid` itself listens on 127.0.0.1:port (another process on the port does not count). */
function listensOn(pid: number, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set(
    readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === local && f[3] === '0A').map((f) => f[9]),
  );
  if (inodes.size === 0) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Debian's rsyslogd as a test-owned process: its own config in `dir`, imtcp with TLS (gtls, RFC 5425)
 * on a loopback port, every message written to a file with the RFC 5424 fields it parsed. The port
 * is below the ephemeral range; the first start moves to another one if it is taken, a restart
 * (the drain's URL names the port) fails with rsyslogd's own words.
 */
export class Rsyslog {
  private proc: ChildProcess | null = null;
  readonly out: string;
  private readonly conf: string;
  private started = false;
  port = portBelowEphemeral();

  constructor(
    private readonly dir: string,
    tls: Tls,
  ) {
    mkdirSync(join(dir, 'work'), { recursive: true });
    for (const [name, pem] of [['ca.pem', tls.caPem], ['cert.pem', tls.certPem], ['key.pem', tls.keyPem]]) writeFileSync(join(dir, name), pem, { mode: 0o600 });
    this.out = join(dir, 'out.log');
    this.conf = join(dir, 'rsyslog.conf');
  }

  private writeConf(): void {
    const dir = this.dir;
    const port = this.port;
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
    for (let attempt = 1; ; attempt++) {
      if (!this.started) this.writeConf();
      const bindError = await this.launch();
      if (!bindError) {
        this.started = true;
        return;
      }
      await this.stop();
      if (this.started) throw new Error(`rsyslogd could not listen on ${this.port} again (another process took it): ${bindError}`);
      if (attempt === 5) throw new Error(`rsyslogd could not listen on 5 ports in a row, the last ${this.port}: ${bindError}`);
      this.port = portBelowEphemeral();
    }
  }

  /** Starts rsyslogd; resolves once it listens itself, or with its words when it cannot bind. */
  private async launch(): Promise<string | null> {
    let log = '';
    const p = spawn('rsyslogd', ['-n', '-f', this.conf, '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (c: Buffer) => (log += c));
    p.stderr!.on('data', (c: Buffer) => (log += c));
    this.proc = p;
    // rsyslogd goes on running when imtcp cannot bind: it says so on stderr.
    const bind = /Could not create tcp listener|Error while binding/;
    const r = await waitFor(`rsyslogd to listen on ${this.port}`, () => {
      if (p.exitCode !== null) throw new Error(`rsyslogd exited with ${p.exitCode}: ${log}`);
      if (bind.test(log)) return { bindError: log.trim() };
      return listensOn(p.pid!, this.port) && { bindError: null };
    }, { timeoutMs: 20_000, intervalMs: 100 });
    return r.bindError;
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
