import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { ensureCa } from '../../tls/ca.js';
import * as S from '../schemas.js';

export const routerHandlers = {
  async getRouterCa(_req, ctx) {
    const ca = await ensureCa(ctx.config.dataDir);
    return { pem: ca.certPem, subject: new X509Certificate(ca.certPem).subject.replace(/\n/g, ', '), fingerprint_sha256: ca.fingerprint, not_after: ca.notAfter.toISOString() };
  },
} satisfies Handlers;

/** The CA as a plain PEM file, for `curl -o berth-ca.pem` and browsers' import dialogs. */
export async function registerRouterExtras(app: FastifyInstance, ctx: ApiContext) {
  app.get(
    '/api/v1/router/ca.pem',
    {
      config: { auth: false },
      schema: {
        operationId: 'getRouterCaPem',
        summary: "Berth's CA certificate as a PEM file",
        tags: ['router'],
        response: {
          200: { type: 'string', description: 'PEM (application/x-pem-file)' },
          // Declared like every route's errors (the route itself takes no input to refuse).
          '4xx': S.ErrorBody,
        },
      },
    },
    async (_req, reply) => {
      const ca = await ensureCa(ctx.config.dataDir);
      return reply.type('application/x-pem-file').header('content-disposition', 'attachment; filename="berth-ca.pem"').send(ca.certPem);
    },
  );
}
