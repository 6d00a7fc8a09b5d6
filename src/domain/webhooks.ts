import { createHmac, timingSafeEqual } from 'node:crypto';

export type Provider = 'github' | 'gitlab' | 'bitbucket';
type Headers = Record<string, string | string[] | undefined>;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Which provider sent this, by the event header each one sets; null if none. */
export function providerOf(h: Headers): Provider | null {
  if (header(h, 'x-github-event')) return 'github';
  if (header(h, 'x-gitlab-event')) return 'gitlab';
  if (header(h, 'x-event-key')) return 'bitbucket';
  return null;
}

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Lengths differ only when the value is wrong; compare anyway so the time does not depend on where.
  return x.length === y.length ? timingSafeEqual(x, y) : (timingSafeEqual(x, x), false);
};

/**
 * Checks the request the way the provider signs it: GitHub `X-Hub-Signature-256` and Bitbucket
 * `X-Hub-Signature` (sha256=HMAC-SHA256 of the raw body), GitLab `X-Gitlab-Token` (the secret itself).
 * Constant-time comparisons. Returns why it failed, or null.
 */
export function verifyDelivery(provider: Provider, h: Headers, raw: Buffer, secret: string): string | null {
  if (provider === 'gitlab') {
    const token = header(h, 'x-gitlab-token');
    if (!token) return 'X-Gitlab-Token is missing';
    return sameText(token, secret) ? null : 'X-Gitlab-Token does not match the webhook secret';
  }
  const name = provider === 'github' ? 'x-hub-signature-256' : 'x-hub-signature';
  const sig = header(h, name);
  if (!sig) return `${provider === 'github' ? 'X-Hub-Signature-256' : 'X-Hub-Signature'} is missing`;
  const expected = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  return sameText(sig.toLowerCase(), expected) ? null : 'the signature does not match the body signed with the webhook secret';
}

/** The provider's id of this delivery (a redelivery keeps it), if it sends one. */
export function deliveryId(provider: Provider, h: Headers): string | undefined {
  if (provider === 'github') return header(h, 'x-github-delivery');
  if (provider === 'gitlab') return header(h, 'x-gitlab-event-uuid') ?? header(h, 'idempotency-key');
  return header(h, 'x-request-uuid');
}

export type Delivery =
  | { kind: 'ping' }
  /** A pull/merge request opened or updated (build its branch into a preview app), or closed/merged (remove it). */
  | { kind: 'request'; action: 'build' | 'close'; number: number; branch: string; commit: string | null; title: string }
  | { kind: 'push'; branch: string; commit: string; message: string; committer: string }
  | { kind: 'ignored'; reason: string };

const SHA = /^[0-9a-f]{40}$/;
const ZERO = '0'.repeat(40);

/** What a payload asks for, in each provider's documented format. */
export function interpret(provider: Provider, h: Headers, body: any): Delivery {
  const event = header(h, provider === 'github' ? 'x-github-event' : provider === 'gitlab' ? 'x-gitlab-event' : 'x-event-key') ?? '';
  if (provider === 'github') {
    if (event === 'ping') return { kind: 'ping' };
    if (event === 'pull_request') {
      const pr = body?.pull_request;
      const action = ['opened', 'reopened', 'synchronize'].includes(body?.action) ? 'build' : body?.action === 'closed' ? 'close' : null;
      return request(action, body?.action, pr?.number ?? body?.number, pr?.head?.ref, pr?.head?.sha, pr?.title);
    }
    if (event !== 'push') return { kind: 'ignored', reason: `event "${event}" does not build` };
    return push(body?.ref, body?.deleted ? ZERO : body?.after, body?.head_commit?.message, body?.head_commit?.committer);
  }
  if (provider === 'gitlab') {
    if (event === 'Merge Request Hook' && body?.object_kind === 'merge_request') {
      const mr = body.object_attributes ?? {};
      const action = ['open', 'reopen', 'update'].includes(mr.action) ? 'build' : ['close', 'merge'].includes(mr.action) ? 'close' : null;
      return request(action, mr.action, mr.iid, mr.source_branch, mr.last_commit?.id, mr.title);
    }
    if (event !== 'Push Hook' || body?.object_kind !== 'push') return { kind: 'ignored', reason: `event "${event}" does not build` };
    const last = Array.isArray(body?.commits) ? body.commits.find((c: any) => c?.id === body.checkout_sha) : undefined;
    return push(body?.ref, body?.checkout_sha ?? body?.after, last?.message, last?.author);
  }
  if (event === 'diagnostics:ping') return { kind: 'ping' };
  if (event.startsWith('pullrequest:')) {
    const pr = body?.pullrequest ?? {};
    const what = event.slice('pullrequest:'.length);
    const action = ['created', 'updated'].includes(what) ? 'build' : ['fulfilled', 'rejected'].includes(what) ? 'close' : null;
    // Bitbucket names a short commit hash here: the preview builds the branch head.
    return request(action, what, pr.id, pr.source?.branch?.name, null, pr.title);
  }
  if (event !== 'repo:push') return { kind: 'ignored', reason: `event "${event}" does not build` };
  // Bitbucket lists each ref change; the first branch update is the push.
  const changes: any[] = Array.isArray(body?.push?.changes) ? body.push.changes : [];
  const change = changes.find((c) => c?.new?.type === 'branch');
  if (!change) return { kind: 'ignored', reason: 'no branch was updated (a deletion or a tag)' };
  const target = change.new.target ?? {};
  return push(`refs/heads/${change.new.name}`, target.hash, target.message, target.author ? { name: target.author.raw } : undefined);
}

function request(action: 'build' | 'close' | null, what: unknown, number: unknown, branch: unknown, sha: unknown, title: unknown): Delivery {
  if (!action) return { kind: 'ignored', reason: `request action "${String(what)}" does not change a preview` };
  if (!Number.isInteger(number) || (number as number) < 1 || (number as number) > 999_999) return { kind: 'ignored', reason: 'the payload names no request number' };
  if (typeof branch !== 'string' || !branch) return { kind: 'ignored', reason: 'the payload names no source branch' };
  const commit = typeof sha === 'string' && SHA.test(sha) ? sha : null;
  return { kind: 'request', action, number: number as number, branch, commit, title: typeof title === 'string' ? title.slice(0, 200) : '' };
}

function push(ref: unknown, sha: unknown, message: unknown, who: any): Delivery {
  if (typeof ref !== 'string' || !ref.startsWith('refs/heads/')) return { kind: 'ignored', reason: typeof ref === 'string' ? `${ref} is not a branch` : 'the payload names no ref' };
  const branch = ref.slice('refs/heads/'.length);
  if (typeof sha !== 'string' || sha === ZERO) return { kind: 'ignored', reason: `branch ${branch} was deleted` };
  if (!SHA.test(sha)) return { kind: 'ignored', reason: 'the payload names no commit' };
  const committer = who?.name ? `${who.name}${who.email ? ` <${who.email}>` : ''}` : '';
  return { kind: 'push', branch, commit: sha, message: typeof message === 'string' ? message.split('\n')[0] : '', committer };
}
