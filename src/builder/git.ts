import { promises as fs } from 'node:fs';
import { run, type RunResult } from '../lib/exec.js';
import { redact } from '../lib/redact.js';
import { SourceError } from './errors.js';
import { EgressRefused, REFUSED, checkResolved, type EgressAllow } from '../lib/egress.js';

const SCHEMES = new Set(['https:', 'http:', 'ssh:', 'git:']);
// user@host:path, git's "scp-like" syntax; git treats it as ssh only when no slash precedes the colon.
const SCP_LIKE = /^(?:([A-Za-z0-9._~-]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/;

function refuse(reason: string): never {
  throw new SourceError('invalid_repo_url', 'repo_url', reason);
}

/**
 * Accepts https, http, ssh and git URLs and scp-like `git@host:path`. Refuses everything git could
 * turn into a local read or a command: file://, `<transport>::` (ext::sh -c ...), local paths,
 * option-like values, and whitespace or control characters.
 */
export function validateGitUrl(url: unknown): string {
  if (typeof url !== 'string' || url === '') refuse('is required');
  if (url.length > 2048) refuse('is too long');
  if (/[\s\0-\x1f\x7f]/.test(url)) refuse('must not contain whitespace or control characters');
  if (url.startsWith('-')) refuse('must not start with "-"');
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) refuse('remote helpers ("<transport>::") are not allowed');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      refuse('is not a valid URL');
    }
    if (!SCHEMES.has(u.protocol)) refuse(`scheme ${u.protocol.slice(0, -1)} is not allowed (use https, http, ssh or git)`);
    // Credentials belong in a vendor account (sealed, sent only to its host), never in the URL,
    // where they would be stored, shown and logged: a token in the user part is one too. ssh
    // names its login user there (git@host), which is no secret; its password would be.
    if (u.password || (u.username && u.protocol !== 'ssh:')) refuse('must not contain credentials (user or password): add a vendor account (berth vendors add) and name it in the source');
    if (!u.hostname) refuse('has no host');
    if (u.hostname.startsWith('-') || decodeURIComponent(u.username).startsWith('-')) {
      refuse('host and user must not start with "-"');
    }
    if (u.pathname === '/' || u.pathname === '') refuse('has no repository path');
    return url;
  }
  const m = SCP_LIKE.exec(url);
  if (m && !url.startsWith('/') && !url.startsWith('.')) {
    const [, , host, repoPath] = m;
    if (host.startsWith('-')) refuse('host must not start with "-"');
    if (repoPath.startsWith('-')) refuse('repository path must not start with "-"');
    return url;
  }
  if (url.startsWith('/') || url.startsWith('.') || url.startsWith('~') || /^[A-Za-z]:[\\/]/.test(url)) {
    refuse('local paths are not allowed');
  }
  refuse('is not a git URL (use https://, http://, ssh://, git:// or git@host:path)');
}

/** A branch or tag name by git check-ref-format's rules, or a full commit sha. */
export function validateRef(ref: unknown): string {
  const bad = (reason: string): never => {
    throw new SourceError('invalid_branch', 'branch', reason);
  };
  if (typeof ref !== 'string' || ref === '') bad('is required');
  const r = ref as string;
  if (r.length > 255) bad('is too long');
  if (r.startsWith('-')) bad('must not start with "-"');
  if (/[\0-\x20\x7f~^:?*[\\]/.test(r)) bad('must not contain spaces, control characters or any of ~ ^ : ? * [ \\');
  if (r.includes('..')) bad('must not contain ".."');
  if (r.includes('@{')) bad('must not contain "@{"');
  if (r === '@') bad('must not be "@"');
  if (r.startsWith('/') || r.endsWith('/') || r.includes('//')) bad('must not start or end with "/" or contain "//"');
  if (r.endsWith('.')) bad('must not end with "."');
  for (const part of r.split('/')) {
    if (part.startsWith('.')) bad('no part may start with "."');
    if (part.endsWith('.lock')) bad('no part may end with ".lock"');
  }
  return r;
}

export interface CloneOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Progress and errors from git, one line at a time, for the build log. */
  onLine?: (line: string) => void;
  /** For private repositories over HTTP(S): sent as a Basic Authorization header. */
  credentials?: { username: string; password: string };
  /** The egress rule (src/lib/egress.ts): the host is resolved and checked, and HTTP(S) clones go to the checked address only. */
  egress?: EgressAllow;
}

/** The host a git URL connects to (URL form or scp-like), lowercase, or null. */
export function gitUrlHost(url: string): string | null {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    try {
      return new URL(url).hostname.toLowerCase();
    } catch {
      return null;
    }
  }
  const m = SCP_LIKE.exec(url);
  return m ? m[2].toLowerCase() : null;
}

/** `-c` options that pin an HTTP(S) clone to the addresses the egress rule checked, and keep it from following redirects. */
async function egressPins(url: string, allow: EgressAllow): Promise<string[]> {
  const host = gitUrlHost(url);
  if (!host) return [];
  let addrs: string[];
  try {
    addrs = await checkResolved(host, 'repo_url', allow);
  } catch (err) {
    if (err instanceof EgressRefused) throw new SourceError('clone_failed', 'repo_url', `${host} is ${REFUSED}`);
    throw new SourceError('clone_failed', 'repo_url', `${host} does not resolve`);
  }
  const pins = ['-c', 'http.followRedirects=false'];
  if (!/^https?:\/\//i.test(url) || addrs.length === 0) return pins;
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const list = addrs.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
  return [...pins, '-c', `http.curloptResolve=${u.hostname.replace(/^\[|\]$/g, '')}:${port}:${list}`];
}

export interface CloneResult {
  commit: string;
  message: string;
  committer: string;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * Shallow-clones `ref` (a branch, a tag or a full commit sha) of `url` into `dir`. Git never
 * prompts, never uses a credential helper and never runs file:// or ext:: transports, even for
 * submodules or redirects.
 */
export async function cloneRepo(url: string, ref: string, dir: string, opts: CloneOptions): Promise<CloneResult> {
  validateGitUrl(url);
  validateRef(ref);
  const deadline = Date.now() + opts.timeoutMs;
  const env = gitEnv(url, opts.credentials);
  const safety = ['-c', 'protocol.file.allow=never', '-c', 'protocol.ext.allow=never', '-c', 'credential.helper=', ...(opts.egress ? await egressPins(url, opts.egress) : [])];
  const git = async (args: string[], what: string): Promise<RunResult> => {
    const left = deadline - Date.now();
    if (left <= 0) throw new SourceError('clone_failed', 'repo_url', `timed out after ${opts.timeoutMs} ms`);
    const res = await run('git', [...safety, ...args], {
      timeoutMs: left,
      signal: opts.signal,
      env,
      onLine: opts.onLine ? (line) => line.trim() && opts.onLine!(redact(line)) : undefined,
    });
    if (res.code !== 0) {
      const why = res.timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : res.aborted
          ? 'was canceled'
          : redact(res.stderr.trim().split('\n').slice(-3).join(' ')) || `git exited with ${res.code}`;
      throw new SourceError('clone_failed', 'repo_url', `${what} failed: ${why}`);
    }
    return res;
  };

  if (FULL_SHA.test(ref)) {
    // A commit is not a branch: clone --branch cannot take it, so fetch exactly that object.
    await fs.mkdir(dir, { recursive: true });
    await git(['init', '-q', '--initial-branch=main', dir], 'git init');
    await git(['-C', dir, 'remote', 'add', 'origin', url], 'git remote add');
    await git(['-C', dir, 'fetch', '--progress', '--depth', '1', 'origin', ref], `fetching commit ${ref}`);
    await git(['-C', dir, 'checkout', '-q', '--detach', 'FETCH_HEAD'], 'git checkout');
  } else {
    await git(
      ['clone', '--progress', '--depth', '1', '--single-branch', '--no-tags', '--branch', ref, '--', url, dir],
      `cloning branch ${ref}`,
    );
  }
  const log = await git(['-C', dir, 'log', '-1', '--format=%H%x00%s%x00%cn <%ce>'], 'git log');
  const [commit, message, committer] = log.stdout.trim().split('\0');
  return { commit, message: message ?? '', committer: committer ?? '' };
}

function gitEnv(url: string, credentials?: CloneOptions['credentials']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    // An askpass that answers nothing: a missing credential fails fast instead of waiting.
    GIT_ASKPASS: 'true',
    SSH_ASKPASS: 'true',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_PROTOCOL_FROM_USER: '0',
  };
  if (credentials && /^https?:\/\//.test(url)) {
    // Passed in the environment, not argv, so other processes cannot read it from `ps`, and
    // scoped to the repository's origin.
    const origin = new URL(url).origin + '/';
    const token = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = `http.${origin}.extraHeader`;
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${token}`;
  }
  return env;
}

export { redact } from '../lib/redact.js';
