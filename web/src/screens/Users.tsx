import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { useAuth } from '../auth';
import { ConfirmButton, ErrorText, ago, useAction, useLoad, Field } from '../ui';

/** Users (admins only): create, disable, make admin, delete. */
export function Users() {
  const { user } = useAuth();
  const users = useLoad(() => call('listUsers'), []);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const act = useAction();
  const create = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('createUser', { body: { username, password } });
      setUsername('');
      setPassword('');
      users.reload();
    });
  };
  if (!user?.is_admin) return <p>Only administrators manage users.</p>;
  return (
    <>
      <h1>Users</h1>
      <ErrorText error={users.error} />
      <table>
        <thead>
          <tr>
            <th>Username</th>
            <th>Admin</th>
            <th>State</th>
            <th>Created</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {users.data?.items.map((u) => (
            <tr key={u.id}>
              <td>{u.username}</td>
              <td>{u.is_admin ? 'yes' : 'no'}</td>
              <td>{u.disabled ? 'disabled' : 'active'}</td>
              <td>{ago(u.created_at)}</td>
              <td>
                {u.id !== user.id && (
                  <>
                    <button type="button" onClick={() => act.run(() => call('updateUser', { params: { id: u.id }, body: { disabled: !u.disabled } }).then(users.reload))}>
                      {u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`}
                    </button>
                    <ConfirmButton label={`Delete ${u.username}`} question={`Delete user ${u.username}?`} typed={u.username} danger onConfirm={() => call('deleteUser', { params: { id: u.id } }).then(users.reload)} />
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={create} className="inline" aria-label="New user">
        <Field label="New username" value={username} onChange={setUsername} required />
        <label>
          Initial password
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} />
        </label>
        <button type="submit" className="primary" disabled={act.busy}>
          Create user
        </button>
      </form>
      <ErrorText error={act.error} />
    </>
  );
}
