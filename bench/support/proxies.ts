import { HTTPLOG_FORMAT, TIMING_RING } from '../../src/router/haproxy/config.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/router/helpers.js';
import { waitFor } from '../../test/support/wait.js';
import { sleep } from './context.js';

/** A static reverse proxy in front of one upstream, started for a baseline and stopped after. */
export interface StaticProxy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function launch(cmd: string, args: string[], dir: string, port: number): Promise<StaticProxy> {
  // HOME and XDG dirs in its own directory: nothing of a baseline is left in the machine's.
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  const child: ChildProcess = spawn(cmd, args, { cwd: dir, stdio: 'ignore', env });
  await waitFor(`${cmd} to listen on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) !== null, { timeoutMs: 15_000 });
  return {
    port,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(50);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's nginx-light, as a user would set it up: one worker per core, keep-alive to the upstream. */
export async function startNginx(upstream: string): Promise<StaticProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-nginx-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream app { server ${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`,
  );
  return launch('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], dir, port);
}

/** Debian's Caddy 2.6 with a minimal reverse_proxy config (what Berth ran before HAProxy). */
export async function startCaddy(upstream: string): Promise<StaticProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-caddy-'));
  const port = await freePort();
  writeFileSync(join(dir, 'Caddyfile'), `{\n  admin off\n  auto_https off\n}\nhttp://127.0.0.1:${port} {\n  reverse_proxy ${upstream}\n}\n`);
  return launch('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], dir, port);
}

/** Debian's HAProxy with the smallest config that proxies (no host map, no headers, no checks). */
export async function startStaticHaproxy(upstream: string, o: { timingRing?: boolean } = {}): Promise<StaticProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-haproxy-'));
  const port = await freePort();
  // With timingRing: the bare config plus what Berth adds for response-time percentiles (a line per
  // request in HAProxy's httplog format, into an in-memory ring), to measure what that costs alone.
  const ring = o.timingRing ? `ring ${TIMING_RING}\n  format raw\n  maxlen 1024\n  size 1048576\n` : '';
  const log = o.timingRing ? `  log ring@${TIMING_RING} format raw local0 info\n  log-format "${HTTPLOG_FORMAT}"\n` : '';
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    `${ring}defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend fe\n${log}  bind 127.0.0.1:${port}\n  default_backend be\nbackend be\n  server s1 ${upstream}\n`,
  );
  return launch('haproxy', ['-f', join(dir, 'haproxy.cfg')], dir, port);
}
