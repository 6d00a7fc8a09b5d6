import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { runOk } from '../lib/exec.js';

export interface GitHttpRequest {
  method: string;
  /** Path below projectRoot, e.g. `/myapp.git/info/refs`. */
  pathInfo: string;
  /** Query string without `?`. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Folder holding the bare repositories. */
  projectRoot: string;
  /** The authenticated user; git's hooks see it as $REMOTE_USER. */
  remoteUser?: string;
  /** Extra environment for git and the post-receive hook (e.g. which app is being pushed). */
  env?: Record<string, string>;
  /** A push runs the hook, which may build for minutes; the default is 30 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface GitHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

// Repository paths are names, never traversal: http-backend would check too, this is the first line.
const SAFE_PATH = /^\/(?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+$/;

/**
 * Serves git's smart HTTP protocol for the bare repositories under projectRoot by running
 * `git http-backend` as a CGI program. Streams both ways, so large pushes and clones stay out of
 * memory. (This spawns directly rather than through lib/exec's run, which buffers output as text.)
 */
export async function handleGitHttp(req: GitHttpRequest): Promise<GitHttpResponse> {
  if (!SAFE_PATH.test(req.pathInfo) || req.pathInfo.split('/').some((p) => p === '..' || p === '.')) {
    return textResponse(404, 'Not Found\n');
  }
  const header = (name: string): string => {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : (v ?? '');
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...req.env,
    GIT_PROJECT_ROOT: path.resolve(req.projectRoot),
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: req.method.toUpperCase(),
    PATH_INFO: req.pathInfo,
    QUERY_STRING: req.query,
    CONTENT_TYPE: header('content-type'),
    REMOTE_USER: req.remoteUser ?? '',
    REMOTE_ADDR: '127.0.0.1',
    // git sends gzip-compressed request bodies and protocol v2 in a header.
    HTTP_CONTENT_ENCODING: header('content-encoding'),
    GIT_PROTOCOL: header('git-protocol'),
  };
  if (header('content-length')) env.CONTENT_LENGTH = header('content-length');

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(kill, req.timeoutMs ?? 30 * 60_000);
  timer.unref();
  req.signal?.addEventListener('abort', kill, { once: true });
  child.on('close', () => {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', kill);
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += c.toString('utf8');
  });
  child.stdin.on('error', () => {
    /* the backend may answer (an error) before reading the whole body */
  });
  req.body.pipe(child.stdin);

  return new Promise<GitHttpResponse>((resolve, reject) => {
    let head = Buffer.alloc(0);
    let done = false;
    const body = new PassThrough();
    const onData = (chunk: Buffer) => {
      if (done) return;
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? { at: crlf, len: 4 } : lf >= 0 ? { at: lf, len: 2 } : null;
      if (!end) {
        if (head.length > 64 * 1024) fail(new Error('git http-backend sent an over-long header'));
        return;
      }
      done = true;
      child.stdout.off('data', onData);
      const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
      const rest = head.subarray(end.at + end.len);
      if (rest.length) body.write(rest);
      child.stdout.pipe(body);
      resolve({ status, headers, body });
    };
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      kill();
      reject(err);
    };
    child.stdout.on('data', onData);
    child.on('error', fail);
    child.on('close', (code) => {
      if (!done) {
        done = true;
        const msg = stderr.trim() || `git http-backend exited with ${code} before answering`;
        resolve(textResponse(500, msg + '\n'));
      }
    });
  });
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  let status = 200;
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

function textResponse(status: number, text: string): GitHttpResponse {
  const body = new PassThrough();
  body.end(text);
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body };
}

export interface BareRepoOptions {
  /** Run after every push, e.g. ['node', '/abs/hook.js', appId]; its output reaches the pusher. */
  postReceive?: readonly string[];
  timeoutMs?: number;
}

/** Creates (or keeps) a bare repository that accepts pushes over HTTP. */
export async function ensureBareRepo(repoPath: string, opts: BareRepoOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const exists = await fs.stat(path.join(repoPath, 'HEAD')).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await fs.mkdir(repoPath, { recursive: true });
    await runOk('git', ['init', '-q', '--bare', '--initial-branch=main', repoPath], { timeoutMs });
  }
  const config = (key: string, value: string) => runOk('git', ['-C', repoPath, 'config', key, value], { timeoutMs });
  await config('http.receivepack', 'true');
  // Lets a build ask for an exact commit (git fetch origin <sha>).
  await config('uploadpack.allowReachableSHA1InWant', 'true');
  await config('receive.denyNonFastForwards', 'false');
  if (opts.postReceive) await installPostReceiveHook(repoPath, opts.postReceive);
}

/** Single-quotes for sh: the only character needing care inside '...' is ' itself. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes hooks/post-receive to run `argv` with the hook's stdin (the pushed refs) and output.
 * Each argument is quoted, so no value can become shell syntax.
 */
export async function installPostReceiveHook(repoPath: string, argv: readonly string[]): Promise<void> {
  if (argv.length === 0) throw new Error('post-receive hook needs a command');
  if (argv.some((a) => a.includes('\0') || a.includes('\n'))) throw new Error('hook arguments must be single-line');
  const script = `#!/bin/sh\n# Written by Berth: hands the pushed refs to Berth.\nexec ${argv.map(shellQuote).join(' ')}\n`;
  const hook = path.join(repoPath, 'hooks', 'post-receive');
  await fs.mkdir(path.dirname(hook), { recursive: true });
  const tmp = `${hook}.${process.pid}.tmp`;
  await fs.writeFile(tmp, script, { mode: 0o755 });
  await fs.rename(tmp, hook);
}
