import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { call, logIn } from '../api';
import { useAuth } from '../auth';
import { ErrorText, useAction, useTitle } from '../ui';

export function Login() {
  const { user, setUser } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  useTitle('Log in');
  // Single sign-on, when an admin configured a provider (BERTH_OIDC_ISSUER): a plain link, the provider's page does the rest.
  const [sso, setSso] = useState<string | null>(null);
  useEffect(() => {
    call('getSso').then(
      (r) => setSso(r.login_url),
      () => setSso(null),
    );
  }, []);
  const next = params.get('next')?.startsWith('/') ? params.get('next')! : '/projects';
  if (user) return <Navigate to={next} replace />;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      setUser(await logIn(username, password));
      navigate(next, { replace: true });
    });
  };
  return (
    <main id="main" className="login">
      <h1>Berth</h1>
      <form onSubmit={submit} aria-label="Log in">
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Log in
        </button>
        <ErrorText error={error} />
      </form>
      {sso && (
        <p>
          <a href={sso} className="button">
            Sign in with single sign-on
          </a>
        </p>
      )}
    </main>
  );
}
