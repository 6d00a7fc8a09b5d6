import { isIP } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { run } from '../../lib/exec.js';
import { connect, messageOf, statusOf, type CallOptions } from '../engine-api.js';
import { modemOptions } from '../docker/client.js';
import { LABEL } from '../labels.js';
import { MANAGED_LABEL } from '../hardening.js';

/** Where `ip netns` keeps named namespaces; HAProxy's `namespace NAME` opens NETNS_DIR/NAME. */
export const NETNS_DIR = '/var/run/netns';
const IP_TIMEOUT_MS = 10_000;

interface AnchorApi {
  createContainer(opts: CallOptions & Record<string, unknown>): Promise<{ id: string; start(opts?: CallOptions): Promise<unknown> }>;
  getContainer(id: string): {
    inspect(opts?: CallOptions): Promise<{ Id: string; State: { Running: boolean; StartedAt: string }; NetworkSettings: { Networks: Record<string, unknown> | null } }>;
    start(opts?: CallOptions): Promise<unknown>;
  };
  getNetwork(name: string): {
    connect(opts: CallOptions & { Container: string }): Promise<unknown>;
    disconnect(opts: CallOptions & { Container: string; Force?: boolean }): Promise<unknown>;
  };
}

export interface AnchorOptions {
  dockerHost?: string;
  instanceId: string;
  /** Any image with `sleep` (the base image). */
  image: string;
  callTimeoutMs?: number;
}

/**
 * The overlay anchor: one idle container per installation on the manager, attached to every
 * project overlay, whose network namespace is bound at /var/run/netns/<netnsName>. The host's
 * HAProxy opens its server connections in that namespace (`namespace` on the server slots), and
 * the control plane's health probes run there: the host itself is on no overlay (docs/cluster.md).
 * It forwards nothing (ip_forward off): it is only a place to open connections from.
 */
export class OverlayAnchor {
  readonly name: string;
  readonly netnsName: string;
  private readonly api: AnchorApi;
  private readonly timeoutMs: number;
  /** The anchor's start time the netns was last bound for: a restarted anchor has a new namespace. */
  private boundFor?: string;

  constructor(private readonly opts: AnchorOptions) {
    const id = opts.instanceId.replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 40);
    this.name = `berth-anchor-${id}`;
    this.netnsName = `berth-${id}`;
    this.timeoutMs = opts.callTimeoutMs ?? 30_000;
    this.api = connect({ ...modemOptions(opts.dockerHost ?? process.env.DOCKER_HOST), timeout: this.timeoutMs }) as unknown as AnchorApi;
  }

  get netnsPath(): string {
    return `${NETNS_DIR}/${this.netnsName}`;
  }

  /**
   * Before the router starts: the netns path must exist or HAProxy refuses its config. The
   * anchor's when the engine answers; otherwise an empty placeholder, replaced (with a reload) later.
   */
  async prepare(): Promise<void> {
    try {
      await this.sync();
    } catch (err) {
      if (existsSync(this.netnsPath)) return;
      await ip(['netns', 'add', this.netnsName]);
      throw err;
    }
  }

  /** Attaches the anchor to a project's overlay (idempotent). */
  async connect(network: string): Promise<void> {
    const info = await this.ensureRunning();
    if (info.NetworkSettings.Networks?.[network]) return;
    try {
      await this.api.getNetwork(network).connect({ Container: this.name, abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      // Already attached (a concurrent call): fine.
      if (!/already exists|already attached/i.test(messageOf(err))) throw err;
    }
  }

  async disconnect(network: string): Promise<void> {
    try {
      await this.api.getNetwork(network).disconnect({ Container: this.name, Force: true, abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      if (statusOf(err) !== 404 && !/is not connected/i.test(messageOf(err))) throw err;
    }
  }

  /**
   * Makes the anchor run and its namespace be the one bound at netnsPath. Returns true when the
   * binding changed (HAProxy holds the namespace it opened at its last config parse: it must reload).
   */
  async sync(): Promise<boolean> {
    const info = await this.ensureRunning();
    if (this.boundFor === info.State.StartedAt && existsSync(this.netnsPath)) return false;
    const pid = hostPidOf(info.Id);
    if (pid === null) throw new Error(`no process of the anchor container ${this.name} found in /proc`);
    const want = statSync(`/proc/${pid}/ns/net`);
    const have = existsSync(this.netnsPath) ? statSync(this.netnsPath) : null;
    const changed = !have || have.ino !== want.ino || have.dev !== want.dev;
    if (changed) {
      if (have) await ip(['netns', 'delete', this.netnsName]);
      await ip(['netns', 'attach', this.netnsName, String(pid)]);
    }
    this.boundFor = info.State.StartedAt;
    return changed;
  }

  private async ensureRunning() {
    const c = this.api.getContainer(this.name);
    const signal = () => AbortSignal.timeout(this.timeoutMs);
    let info = await c.inspect({ abortSignal: signal() }).catch((err) => {
      if (statusOf(err) === 404) return null;
      throw err;
    });
    if (!info) {
      try {
        await this.api.createContainer({
          name: this.name,
          Image: this.opts.image,
          Cmd: ['sleep', 'infinity'],
          User: '65534:65534',
          Labels: { [LABEL.instance]: this.opts.instanceId, [MANAGED_LABEL]: 'true', 'berth.anchor': 'true' },
          HostConfig: {
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
            Memory: 16 * 1024 * 1024,
            MemorySwap: 16 * 1024 * 1024,
            PidsLimit: 8,
            // It joins every project's overlay: it must never route between them.
            Sysctls: { 'net.ipv4.ip_forward': '0' },
            RestartPolicy: { Name: 'always' },
          },
          abortSignal: signal(),
        });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
      }
      info = await c.inspect({ abortSignal: signal() });
    }
    if (!info.State.Running) {
      await c.start({ abortSignal: signal() }).catch((err) => {
        if (statusOf(err) !== 304) throw err;
      });
      info = await c.inspect({ abortSignal: signal() });
    }
    return info;
  }
}

/**
 * The pid, in this machine's pid namespace, of a process of the container: the one whose cgroup
 * path names the container's id. The engine's own `State.Pid` is in the engine's pid namespace,
 * which is not this one when the engine runs in a container (a Docker-in-Docker node).
 */
export function hostPidOf(containerId: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(containerId)) return Number(entry);
    } catch {
      /* gone meanwhile */
    }
  }
  return null;
}

async function ip(args: string[]): Promise<void> {
  const r = await run('ip', args, { timeoutMs: IP_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** Whether something accepts TCP at address:port, asked from inside the anchor's namespace. */
export async function tcpInNetns(netnsPath: string, address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  if (!isIP(address) || !Number.isInteger(port) || port < 1 || port > 65535) return false;
  // bash's /dev/tcp connects and exits 0 when accepted; the values go in as arguments, not script text.
  const r = await run('nsenter', [`--net=${netnsPath}`, '--', 'timeout', String(timeoutMs / 1000), 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"', address, String(port)], {
    timeoutMs: timeoutMs + 3000,
  });
  return r.code === 0;
}

/** One health probe from inside the anchor's namespace: true when the replica answers below 500. */
export async function probeInNetns(netnsPath: string, url: string, timeoutMs = 2000): Promise<{ healthy: boolean; said: string }> {
  const r = await run('nsenter', [`--net=${netnsPath}`, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(timeoutMs / 1000), url], {
    timeoutMs: timeoutMs + 3000,
  });
  const status = Number(r.stdout.trim());
  if (status > 0) return { healthy: status < 500, said: `HTTP ${status}` };
  // curl's own exit codes: 7 could not connect, 28 timed out.
  return { healthy: false, said: r.code === 7 ? 'connection refused' : r.code === 28 ? `no answer within ${timeoutMs / 1000} s` : `no HTTP answer (curl exit ${r.code})` };
}
