import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { deferDockerodeExtras } from './lazy-deps.js';

/**
 * The slice of dockerode that DockerRuntime uses, typed here because @types/dockerode is not
 * installed; loading through createRequire keeps this file valid if those types arrive later.
 * Field names are the Engine API's (v1.41, Docker 20.10).
 */

export interface ModemOptions {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** Socket idle timeout in ms (docker-modem destroys the request when it passes). */
  timeout?: number;
  version?: string;
}

export interface CallOptions {
  abortSignal?: AbortSignal;
}

export interface EngineError extends Error {
  statusCode?: number;
  json?: { message?: string } | null;
}

export interface EngineContainer {
  id: string;
  start(opts?: CallOptions): Promise<unknown>;
  stop(opts?: CallOptions & { t?: number }): Promise<unknown>;
  remove(opts?: CallOptions & { force?: boolean; v?: boolean }): Promise<unknown>;
  inspect(opts?: CallOptions): Promise<ContainerInspect>;
  wait(opts?: CallOptions): Promise<{ StatusCode: number }>;
  getArchive(opts: CallOptions & { path: string }): Promise<Readable>;
  attach(opts: CallOptions & { stream: boolean; stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; hijack: boolean }): Promise<NodeJS.ReadWriteStream>;
  resize(opts: CallOptions & { h: number; w: number }): Promise<unknown>;
  putArchive(file: Readable, opts: CallOptions & { path: string }): Promise<unknown>;
  logs(
    opts: CallOptions & {
      follow: boolean;
      stdout: boolean;
      stderr: boolean;
      timestamps: boolean;
      tail?: number | 'all';
      since?: number;
    },
  ): Promise<Readable | Buffer>;
  stats(opts: CallOptions & { stream: false }): Promise<StatsJson>;
}

/** The Engine API's stats answer (GET /containers/{id}/stats?stream=false), the fields Berth reads. */
export interface StatsJson {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  RestartCount: number;
  Config: { Image: string; Labels: Record<string, string> | null; User: string };
  State: { Status: string; ExitCode: number; StartedAt: string; FinishedAt: string; OOMKilled: boolean; Pid?: number; Error?: string };
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> | null };
  HostConfig: Record<string, unknown>;
  Mounts: unknown[];
}

export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
}

export interface ImageInspect {
  Id: string;
  Size?: number;
  Created?: string;
  Config: { User?: string; ExposedPorts?: Record<string, unknown> | null; Labels?: Record<string, string> | null } | null;
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Created?: string;
  IPAM?: { Config?: { Subnet?: string }[] | null } | null;
}

export interface Dockerode {
  modem: unknown;
  ping(opts?: CallOptions): Promise<unknown>;
  listNetworks(opts: CallOptions & { filters?: Record<string, string[]> }): Promise<NetworkSummary[]>;
  createNetwork(opts: CallOptions & Record<string, unknown>): Promise<{ id: string }>;
  getNetwork(id: string): { remove(opts?: CallOptions): Promise<unknown> };
  createContainer(opts: CallOptions & Record<string, unknown>): Promise<EngineContainer>;
  getContainer(id: string): EngineContainer;
  listContainers(opts: CallOptions & { all?: boolean; filters?: Record<string, string[]> }): Promise<ContainerSummary[]>;
  getEvents(opts: CallOptions & { filters?: Record<string, string[]>; since?: number }): Promise<Readable>;
  getImage(ref: string): {
    inspect(opts?: CallOptions): Promise<ImageInspect>;
    remove(opts?: CallOptions & { force?: boolean; noprune?: boolean }): Promise<unknown>;
  };
  createVolume(opts: CallOptions & Record<string, unknown>): Promise<unknown>;
  getVolume(name: string): {
    inspect(opts?: CallOptions): Promise<{ Name: string; Labels: Record<string, string> | null }>;
    remove(opts?: CallOptions): Promise<unknown>;
  };
  listVolumes(opts: CallOptions & { filters?: Record<string, string[]> }): Promise<{ Volumes: { Name: string }[] | null }>;
  buildImage(context: Readable, opts: CallOptions & Record<string, unknown>): Promise<Readable>;
  listImages(opts: CallOptions & { filters?: Record<string, string[]> }): Promise<{ Id: string; RepoTags?: string[] | null; Labels?: Record<string, string> | null; Size?: number }[]>;
  /** POST /images/create; the callback form keeps `auth` out of the query string (it goes in X-Registry-Auth). */
  createImage(auth: Record<string, string> | undefined, opts: CallOptions & { fromImage: string; tag: string }, cb: (err: unknown, body: Readable) => void): void;
}

const require = createRequire(import.meta.url);
deferDockerodeExtras();
const DockerodeCtor = require('dockerode') as new (opts: ModemOptions) => Dockerode;

export function connect(opts: ModemOptions): Dockerode {
  return new DockerodeCtor(opts);
}

export function statusOf(err: unknown): number | undefined {
  return (err as EngineError | null)?.statusCode;
}

/** The engine's own message ("No such container: x"), not docker-modem's wrapper text. */
export function messageOf(err: unknown): string {
  const e = err as EngineError;
  return e?.json?.message ?? e?.message ?? String(err);
}
