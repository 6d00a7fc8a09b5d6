import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../../src/lib/exec.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const NODE_IMAGE = process.env.BERTH_NODE_IMAGE ?? 'berth/node:bookworm';

/** A Docker host in a container: the flags ENVIRONMENT.md gives (--privileged is refused on this machine). */
export interface DindNode {
  name: string;
  /** Its engine's socket on this machine: DOCKER_HOST for a control plane that manages it. */
  dockerHost: string;
  ip: string;
  /** `docker ...` run inside the node, against its own engine. */
  docker(args: string[], timeoutMs?: number): Promise<RunResult>;
}

export interface DindCluster {
  nodes: DindNode[];
  /** This machine's address on the nodes' network: where a control plane running here (and its registry) is reached from the nodes. */
  gateway: string;
  /**
   * Bind-mounted at /etc/docker/certs.d in the first node: the control plane (here) manages that
   * node's engine as if it ran on the same server, so the registry CA it writes there is what that engine reads.
   */
  certsDir: string;
  destroy(): Promise<void>;
}

/**
 * Starts `count` Docker-in-Docker nodes on a bridge network of their own. Nothing here touches the
 * host engine's Swarm state: each node's engine is separate, and tests drive the first one.
 */
export async function startNodes(count: number): Promise<DindCluster> {
  await run('bash', [join(ROOT, 'scripts/node-image.sh')], { timeoutMs: 900_000 }).then((r) => {
    if (r.code !== 0) throw new Error(`node image: ${r.stderr}`);
  });
  const suffix = uniqueSuffix();
  const network = `berth-nodes-${suffix}`;
  const sockets = mkdtempSync(join(tmpdir(), 'berth-nodes-'));
  const certsDir = join(sockets, 'certs.d');
  mkdirSync(certsDir);
  const names: string[] = [];
  const destroy = async () => {
    if (names.length) await run('docker', ['rm', '-fv', ...names], { timeoutMs: 120_000 });
    await run('docker', ['network', 'rm', network], { timeoutMs: 60_000 });
    rmSync(sockets, { recursive: true, force: true });
  };
  try {
    await must(['network', 'create', network]);
    const nodes: DindNode[] = [];
    for (let i = 0; i < count; i++) {
      const name = `berth-node-${suffix}-${i}`;
      const dir = join(sockets, String(i));
      names.push(name);
      await must([
        'run', '-d', '--name', name, '--hostname', `node${i}`, '--network', network,
        '--label', 'berth.test=cluster',
        '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
        '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
        // Without --privileged the cgroup mounts are read-only and the node's engine cannot start a
        // container; binding the cgroup tree in makes it writable (each node's containers still
        // land under that node's own cgroup, as /proc/self/cgroup inside them shows).
        '-v', '/sys/fs/cgroup:/sys/fs/cgroup',
        '-v', '/var/lib/docker', '-v', `${dir}:/run/berth`,
        ...(i === 0 ? ['-v', `${certsDir}:/etc/docker/certs.d`] : []),
        NODE_IMAGE, 'dockerd', '-H', 'unix:///var/run/docker.sock', '-H', 'unix:///run/berth/docker.sock', '--cgroup-parent', `berth-node-${i}`,
      ]);
      const ip = (await must(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])).trim();
      const docker = (args: string[], timeoutMs = 60_000) => run('docker', ['exec', name, 'docker', ...args], { timeoutMs });
      nodes.push({ name, ip, dockerHost: `unix://${join(dir, 'docker.sock')}`, docker });
    }
    for (const n of nodes) {
      await waitFor(`the engine in ${n.name}`, async () => (await n.docker(['info', '--format', '{{.ServerVersion}}'], 10_000)).code === 0, { timeoutMs: 60_000, intervalMs: 250 });
    }
    const gateway = (await must(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', network])).trim();
    return { nodes, gateway, certsDir, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/**
 * The environment of a control plane here that manages the first node's engine in cluster mode:
 * its registry listens on this machine's address on the nodes' network.
 */
export function clusterEnv(cluster: DindCluster, registryPort: number): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: cluster.nodes[0]!.dockerHost,
    BERTH_CLUSTER: '1',
    BERTH_REGISTRY_ADDR: cluster.gateway,
    BERTH_REGISTRY_PORT: String(registryPort),
    BERTH_DOCKER_CERTS_DIR: cluster.certsDir,
  };
}

/**
 * A control plane here in cluster mode over all the nodes, set up as an operator would: `cluster
 * init` through the API, then on every other node the whole command Berth prints (the trust step
 * for its registry, then the Swarm join). Replicas on any node then pull from Berth's registry.
 */
export async function startClusterServer(cluster: DindCluster, env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const s = await startServer({ env: { ...clusterEnv(cluster, await freePort()), ...env } });
  try {
    await s.admin.call('initCluster', { body: {} });
    const join = await s.admin.call('getJoinCommand', {});
    for (const w of cluster.nodes.slice(1)) {
      const r = await run('docker', ['exec', w.name, 'sh', '-c', join.command], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`joining ${w.name}: ${r.stderr}`);
    }
    const ready = async () => (await s.admin.call('listNodes', {})).items.filter((n) => n.state === 'ready').length === cluster.nodes.length;
    await waitFor(`${cluster.nodes.length} ready nodes`, ready, { timeoutMs: 60_000, intervalMs: 500 });
    return s;
  } catch (err) {
    await s.destroy();
    throw err;
  }
}

async function must(args: string[]): Promise<string> {
  const r = await run('docker', args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`docker ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

/** Copies an image of the host engine into a node's engine (no registry is reachable here). */
export function loadImage(node: DindNode, image: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'inherit'] });
    const load = spawn('docker', ['exec', '-i', node.name, 'docker', 'load', '-q'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const timer = setTimeout(() => {
      save.kill('SIGKILL');
      load.kill('SIGKILL');
    }, 300_000);
    save.stdout.pipe(load.stdin);
    load.on('error', reject);
    save.on('error', reject);
    load.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`docker load into ${node.name} exited with ${code}`));
    });
  });
}
