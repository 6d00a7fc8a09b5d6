import { createRequire } from 'node:module';
import Module from 'node:module';

/**
 * dockerode loads ssh2 (for ssh:// engines) and gRPC (for BuildKit sessions) when it is required:
 * about 20 MB of resident memory, and Berth uses neither (DOCKER_HOST is a socket, tcp or https;
 * builds use the classic builder). The idle goal is 120 MB. These stand-ins take their place in the
 * module cache and load the real module on first use, so a later use still works.
 */
export function deferDockerodeExtras(): void {
  // Resolved the way dockerode itself resolves them, wherever the package manager put them.
  const fromDockerode = createRequire(createRequire(import.meta.url).resolve('dockerode'));
  let fromModem: NodeJS.Require;
  try {
    fromModem = createRequire(fromDockerode.resolve('docker-modem'));
  } catch {
    return; // dockerode will fail to load on its own, with its own message
  }
  defer(fromModem, 'ssh2', (load) => ({
    // docker-modem reads .Client when it loads and calls `new Client()` only for ssh:// hosts.
    Client: function Client(...args: unknown[]) {
      const Real = (load() as { Client: new (...a: unknown[]) => object }).Client;
      return new Real(...args);
    },
  }));
  for (const id of ['@grpc/grpc-js', '@grpc/proto-loader']) {
    defer(fromDockerode, id, (load) => new Proxy({}, { get: (_t, key) => (load() as Record<PropertyKey, unknown>)[key] }));
  }
}

function defer(req: NodeJS.Require, id: string, stand: (load: () => unknown) => unknown): void {
  let path: string;
  try {
    path = req.resolve(id);
  } catch {
    return; // not installed where dockerode looks: nothing to defer
  }
  if (req.cache[path]) return;
  let real: unknown;
  const load = () => {
    if (real === undefined) {
      delete req.cache[path];
      real = req(path);
    }
    return real;
  };
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = stand(load);
  req.cache[path] = stub;
}
