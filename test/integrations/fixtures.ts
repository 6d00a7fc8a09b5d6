import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

const DIR = new URL('../../../test/fixtures/webhooks/', import.meta.url).pathname;

/** A provider's documented payload with the branch and commit of this test filled in. */
export const payload = (name: string, branch = 'main', sha = 'a'.repeat(40), request: { number?: number; action?: string } = {}) =>
  Buffer.from(
    readFileSync(`${DIR}${name}.json`, 'utf8')
      .replaceAll('__BRANCH__', branch)
      .replaceAll('__SHA__', sha)
      .replaceAll('__NUMBER__', String(request.number ?? 2))
      .replaceAll('__ACTION__', request.action ?? 'opened'),
  );

const hmac = (secret: string, body: Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** The headers each provider sends with a delivery, signed the way it signs. */
export function signed(provider: 'github' | 'gitlab' | 'bitbucket', event: string, body: Buffer, secret: string, delivery: string): Record<string, string> {
  const json = { 'content-type': 'application/json' };
  if (provider === 'github') {
    return { ...json, 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': hmac(secret, body), 'user-agent': 'GitHub-Hookshot/abc' };
  }
  if (provider === 'gitlab') return { ...json, 'x-gitlab-event': event, 'x-gitlab-event-uuid': delivery, 'x-gitlab-token': secret };
  return { ...json, 'x-event-key': event, 'x-request-uuid': delivery, 'x-hub-signature': hmac(secret, body), 'x-hook-uuid': 'hook-1' };
}
