import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Projects and their members. */
export const projectRoutes = {
  listProjects: {
    method: 'GET',
    path: '/api/v1/projects',
    summary: 'List the projects the caller is a member of',
    tag: 'projects',
    query: S.Page,
    response: S.paged(S.Project),
  },
  createProject: {
    method: 'POST',
    path: '/api/v1/projects',
    summary: 'Create a project; the caller becomes its owner',
    tag: 'projects',
    status: 201,
    body: closed({ name: S.DnsLabel }),
    response: S.Project,
  },
  getProject: {
    method: 'GET',
    path: '/api/v1/projects/:id',
    summary: 'Get a project by id or name',
    tag: 'projects',
    params: IdParam,
    response: S.Project,
  },
  updateProject: {
    method: 'PUT',
    path: '/api/v1/projects/:id',
    summary: 'Rename a project (owner)',
    tag: 'projects',
    params: IdParam,
    body: closed({ name: T.Optional(S.DnsLabel) }),
    response: S.Project,
  },
  deleteProject: {
    method: 'DELETE',
    path: '/api/v1/projects/:id',
    summary: 'Delete an empty project (owner)',
    tag: 'projects',
    params: IdParam,
    response: S.Ok,
  },
  listMembers: {
    method: 'GET',
    path: '/api/v1/projects/:id/members',
    summary: 'List project members',
    tag: 'projects',
    params: IdParam,
    response: T.Object({ items: T.Array(S.Member) }),
  },
  addMember: {
    method: 'POST',
    path: '/api/v1/projects/:id/members',
    summary: 'Add a member or change a member’s role (owner)',
    tag: 'projects',
    params: IdParam,
    body: closed({ username: S.Username, role: S.Role }),
    response: S.Member,
  },
  removeMember: {
    method: 'DELETE',
    path: '/api/v1/projects/:id/members/:user',
    summary: 'Remove a member (owner)',
    tag: 'projects',
    params: closed({ id: S.Id, user: T.String({ minLength: 1, maxLength: 128 }) }),
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
