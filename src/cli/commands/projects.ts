import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { details, emit, table } from '../output.js';

const flat = (p: { owner: { username: string } } & Record<string, unknown>) => ({ ...p, owner: p.owner.username });

export function registerProjects(program: Command) {
  const projects = program.command('projects').description('manage projects');
  projects
    .command('ls')
    .description('list your projects')
    .action(async (_o, cmd: Command) => {
      const res = await client(cmd).call('listProjects', { query: { limit: 500 } });
      emit(globals(cmd), res.items, () =>
        table(res.items.map(flat), [['name', 'Name'], ['id', 'Id'], ['owner', 'Owner'], ['role', 'Role'], ['apps', 'Apps'], ['created_at', 'Created']]),
      );
    });
  projects
    .command('create <name>')
    .description('create a project')
    .action(async (name: string, _o, cmd: Command) => {
      const p = await client(cmd).call('createProject', { body: { name } });
      emit(globals(cmd), p, () => `Created project ${p.name} (${p.id}).`);
    });
  projects
    .command('info <project>')
    .description('show a project and its members')
    .action(async (project: string, _o, cmd: Command) => {
      const c = client(cmd);
      const p = await c.call('getProject', { params: { id: project } });
      const members = await c.call('listMembers', { params: { id: p.id } });
      emit(globals(cmd), { ...p, members: members.items }, () =>
        [
          details(flat(p), [['name', 'Name'], ['id', 'Id'], ['owner', 'Owner'], ['role', 'Your role'], ['apps', 'Apps'], ['created_at', 'Created']]),
          '',
          table(members.items, [['username', 'Member'], ['role', 'Role'], ['created_at', 'Since']]),
        ].join('\n'),
      );
    });
  projects
    .command('rename <project> <name>')
    .description('rename a project')
    .action(async (project: string, name: string, _o, cmd: Command) => {
      const p = await client(cmd).call('updateProject', { params: { id: project }, body: { name } });
      emit(globals(cmd), p, () => `Renamed to ${p.name}.`);
    });
  projects
    .command('delete <project>')
    .description('delete an empty project')
    .action(async (project: string, _o, cmd: Command) => {
      await client(cmd).call('deleteProject', { params: { id: project } });
      emit(globals(cmd), { ok: true }, () => `Deleted project ${project}.`);
    });

  const members = program.command('members').description('manage project members');
  members
    .command('add <project> <username>')
    .description('add a member, or change their role')
    .option('-r, --role <role>', 'owner, developer or viewer', 'developer')
    .action(async (project: string, username: string, o: { role: 'owner' | 'developer' | 'viewer' }, cmd: Command) => {
      const m = await client(cmd).call('addMember', { params: { id: project }, body: { username, role: o.role } });
      emit(globals(cmd), m, () => `${m.username} is now ${m.role} of ${project}.`);
    });
  members
    .command('rm <project> <username>')
    .description('remove a member')
    .action(async (project: string, username: string, _o, cmd: Command) => {
      await client(cmd).call('removeMember', { params: { id: project, user: username } });
      emit(globals(cmd), { ok: true }, () => `Removed ${username} from ${project}.`);
    });
}
