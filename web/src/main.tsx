import { StrictMode, useEffect, useState, type ReactNode } from 'react';
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
import { ControlPlanesPage } from './screens/ControlPlanes';
import { NodePage } from './screens/Node';
import { NotFound, useTitle } from './ui';
import { AuthContext, useAuth } from './auth';
import './styles.css';

/** The title of a screen whose title names no object (Events, Tokens); screens of one thing set their own. */
function Titled({ title, children }: { title: string; children: ReactNode }) {
  useTitle(title);
  return children;
}

function Shell() {
  const { user, setUser } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  // On a narrow screen the navigation folds into a menu (styles.css); a link followed closes it.
  const [menu, setMenu] = useState(false);
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
        <button type="button" className="menu-button" aria-expanded={menu} aria-controls="main-menu" onClick={() => setMenu(!menu)}>
          Menu
        </button>
        <div id="main-menu" className={`menu${menu ? ' open' : ''}`} onClick={(e) => (e.target as HTMLElement).closest('a') && setMenu(false)}>
          <nav aria-label="Main">
            <NavLink to="/projects">Projects</NavLink>
            <NavLink to="/events">Events</NavLink>
            <NavLink to="/settings/tokens">Tokens</NavLink>
            {user.is_admin && <NavLink to="/admin/users">Users</NavLink>}
            {user.is_admin && <NavLink to="/nodes">Nodes</NavLink>}
            {user.is_admin && <NavLink to="/admin/control-planes">Control planes</NavLink>}
          </nav>
          <span className="who">{user.username}</span>
          <button type="button" onClick={out}>
            Log out
          </button>
        </div>
      </header>
      <main id="main">
        <Routes>
          <Route path="/" element={<Navigate to="/projects" replace />} />
          <Route path="/projects" element={<Titled title="Projects"><Projects /></Titled>} />
          <Route path="/projects/:name/:tab?" element={<ProjectPage />} />
          <Route path="/addons/:id" element={<AddonPage />} />
          <Route path="/apps/:slug/:tab?" element={<AppPage />} />
          <Route path="/builds/:id" element={<BuildPage />} />
          <Route path="/events" element={<Titled title="Events"><EventsPage /></Titled>} />
          <Route path="/settings/tokens" element={<Titled title="Tokens"><Tokens /></Titled>} />
          <Route path="/admin/users" element={<Titled title="Users"><Users /></Titled>} />
          <Route path="/nodes" element={<NodesPage />} />
          <Route path="/admin/control-planes" element={<ControlPlanesPage />} />
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
