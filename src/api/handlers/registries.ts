import type { Handlers } from '../register.js';
import { badRequest, conflict, notFound } from '../errors.js';
import * as registries from '../../store/registries.js';
import type { RegistryRow } from '../../store/registries.js';
import { isUniqueViolation, now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { hostPortProblem } from '../../lib/hostport.js';
import { checkHost } from '../../lib/egress.js';

const dto = (r: RegistryRow) => ({ id: r.id, host: r.host, username: r.username, created_at: r.created_at });

export const registryHandlers = {
  async createRegistry({ user, body }, ctx) {
    const problem = hostPortProblem(body.host);
    if (problem) throw badRequest(`host ${problem}`, 'host');
    checkHost(body.host.replace(/:\d+$/, ''), 'host', ctx.config.egressAllow);
    const row: RegistryRow = {
      id: newId('reg'),
      owner_id: user.id,
      host: body.host.toLowerCase(),
      username: body.username,
      password_sealed: ctx.secrets.seal(body.password),
      created_at: now(),
    };
    try {
      await registries.insertRegistry(ctx.db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`you already have an account for ${row.host}; remove it first`, 'host');
      throw err;
    }
    return dto(row);
  },

  async listRegistries({ user }, ctx) {
    return { items: (await registries.registriesOf(ctx.db, user.id)).map(dto) };
  },

  async deleteRegistry({ user, params }, ctx) {
    const r = await registries.registryById(ctx.db, params.id);
    if (!r || (r.owner_id !== user.id && !user.is_admin)) throw notFound('registry account', params.id);
    await registries.deleteRegistry(ctx.db, r.id);
    return { ok: true };
  },
} satisfies Handlers;
