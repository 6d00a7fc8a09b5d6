import { X509Certificate } from 'node:crypto';
import type { Handlers } from '../register.js';
import { ensureCa } from '../../tls/ca.js';

export const routerHandlers = {
  async getRouterCa(_req, ctx) {
    const ca = await ensureCa(ctx.config.dataDir);
    return { pem: ca.certPem, subject: new X509Certificate(ca.certPem).subject.replace(/\n/g, ', '), fingerprint_sha256: ca.fingerprint, not_after: ca.notAfter.toISOString() };
  },

  /** The same certificate as a file, for `curl -o berth-ca.pem` and browsers' import dialogs. */
  async getRouterCaPem({ header }, ctx) {
    header('content-disposition', 'attachment; filename="berth-ca.pem"');
    return (await ensureCa(ctx.config.dataDir)).certPem;
  },
} satisfies Handlers;
