import { runOk } from '../../src/lib/exec.js';
import type { ContainerSpec, Runtime } from '../../src/runtime/types.js';
import { waitFor } from './wait.js';

/** What `docker inspect` says, as a user or an auditor would check it. */
export async function dockerInspect(id: string): Promise<any> {
  const res = await runOk('docker', ['inspect', id], { timeoutMs: 20_000 });
  return (JSON.parse(res.stdout) as unknown[])[0];
}

/** Fetches JSON from a container's address with a per-request timeout. */
export async function getJson(url: string, timeoutMs = 3000): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.json() };
}

/** Creates and starts a container, returning its id and its address on the spec's network. */
export async function startApp(runtime: Runtime, spec: ContainerSpec): Promise<{ id: string; ip: string }> {
  const id = await runtime.createContainer(spec);
  await runtime.startContainer(id);
  const ip = await waitFor('an address', async () => (await runtime.inspectContainer(id))?.addresses[spec.network]);
  return { id, ip };
}

/** Removes every container carrying the labels (test cleanup). */
export async function removeLabelled(runtime: Runtime, labels: Record<string, string>): Promise<void> {
  for (const c of await runtime.listContainers(labels)) await runtime.removeContainer(c.id);
}

/**
 * Runs `node -e <fetch one-liner> url` in a container on `network` and returns its one-line verdict:
 * "OK <status>" or "ERR <code>". Containers always have a restart policy, so the verdict is read from
 * the first line the client logged rather than from its exit.
 */
export async function probeFrom(
  runtime: Runtime,
  base: Omit<ContainerSpec, 'cmd' | 'name'> & { name: string },
  url: string,
): Promise<string> {
  const script =
    "fetch(process.argv[1],{signal:AbortSignal.timeout(3000)})" +
    ".then(r=>r.text().then(t=>{console.log('OK '+r.status+' '+t.slice(0,80));process.exit(0)}))" +
    ".catch(e=>{console.log('ERR '+(e.cause&&e.cause.code||e.name));process.exit(1)})";
  const id = await runtime.createContainer({ ...base, cmd: ['node', '-e', script, url] });
  try {
    await runtime.startContainer(id);
    return await waitFor(
      `the probe of ${url}`,
      async () => {
        for await (const l of runtime.logs(id, {})) if (/^(OK|ERR) /.test(l.line)) return l.line;
        return undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  } finally {
    await runtime.removeContainer(id);
  }
}
