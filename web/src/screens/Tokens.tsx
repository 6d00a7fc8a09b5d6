import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { ConfirmButton, ErrorText, Section, ago, useAction, useLoad, Field } from '../ui';

/** API tokens (shown once, revocable) and the password. */
export function Tokens() {
  const tokens = useLoad(() => call('listTokens'), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const act = useAction();
  const create = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const t = await call('createToken', { body: { name } });
      setCreated({ name: t.name, token: t.token });
      setName('');
      tokens.reload();
    });
  };
  return (
    <>
      <h1>API tokens</h1>
      {created && (
        <div role="status" className="once">
          <p>
            Token <strong>{created.name}</strong> — copy it now, it is not shown again:
          </p>
          <code className="mono token" aria-label="New token">
            {created.token}
          </code>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Expires</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {tokens.data?.items.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>{ago(t.created_at)}</td>
              <td>{ago(t.last_used_at)}</td>
              <td>{t.expires_at ? new Date(t.expires_at).toLocaleDateString() : 'never'}</td>
              <td>
                <ConfirmButton label={`Revoke ${t.name}`} question={`Revoke ${t.name}? Whatever uses it stops working.`} danger onConfirm={() => call('revokeToken', { params: { id: t.id } }).then(tokens.reload)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorText error={tokens.error} />
      <form onSubmit={create} className="inline" aria-label="Create a token">
        <Field label="Token name" value={name} onChange={setName} required maxLength={100} />
        <button type="submit" className="primary" disabled={act.busy}>
          Create token
        </button>
        <ErrorText error={act.error} />
      </form>
      <Password />
    </>
  );
}

function Password() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      await call('changePassword', { body: { current_password: current, new_password: next } });
      setCurrent('');
      setNext('');
      setDone(true);
    });
  };
  return (
    <Section title="Password">
      <form onSubmit={submit} className="inline" aria-label="Change password">
        <label>
          Current password
          <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        </label>
        <label>
          New password
          <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required minLength={8} />
        </label>
        <button type="submit" disabled={act.busy}>
          Change password
        </button>
        {done && <span role="status">Password changed.</span>}
        <ErrorText error={act.error} />
      </form>
    </Section>
  );
}
