import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { currentSession, logOut, whenLoggedOut, type User } from './api';
import { Login } from './screens/Login';
import { Projects } from './screens/Projects';
import { ProjectPage } from './screens/Project';
import { AppPage } from './screens/App';
import { BuildPage } from './screens/Build';
import { EventsPage } from './screens/Events';
import { Tokens } from './screens/Tokens';
import { Users } from './screens/Users';
import { AddonPage } from './screens/Addon';
import { NodesPage } from './screens/Nodes';
import { NodePage } from './screens/Node';
import { NotFound } from './ui';
import { AuthContext, useAuth } from './auth';
import './styles.css';


function Shell() {
  const { user, setUser } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  const out = async () => {
    await logOut().catch(() => {});
    setUser(null);
    navigate('/login');
  };
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <NavLink to="/projects" className="brand">
          Berth
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/projects">Projects</NavLink>
          <NavLink to="/events">Events</NavLink>
          <NavLink to="/settings/tokens">Tokens</NavLink>
          {user.is_admin && <NavLink to="/admin/users">Users</NavLink>}
          {user.is_admin && <NavLink to="/nodes">Nodes</NavLink>}
        </nav>
        <span className="who">{user.username}</span>
        <button type="button" onClick={out}>
          Log out
        </button>
      </header>
      <main id="main">
        <Routes>
          <Route path="/" element={<Navigate to="/projects" replace />} />
          <Route path="/projects" element={<Projects />} />
          <Route path="/projects/:name/:tab?" element={<ProjectPage />} />
          <Route path="/addons/:id" element={<AddonPage />} />
          <Route path="/apps/:slug/:tab?" element={<AppPage />} />
          <Route path="/builds/:id" element={<BuildPage />} />
          <Route path="/events" element={<EventsPage />} />
          <Route path="/settings/tokens" element={<Tokens />} />
          <Route path="/admin/users" element={<Users />} />
          <Route path="/nodes" element={<NodesPage />} />
          <Route path="/nodes/:id" element={<NodePage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </>
  );
}

function Root() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    whenLoggedOut(() => setUser(null));
    currentSession().then(setUser, () => setUser(null));
  }, []);
  if (user === undefined) return <p className="loading">Loading…</p>;
  return (
    <AuthContext.Provider value={{ user, setUser }}>
      <BrowserRouter>
        <Routes>
          <Route path="/login" element={<Login />} />
          <Route path="*" element={<Shell />} />
        </Routes>
      </BrowserRouter>
    </AuthContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
