import { lazy, Suspense, useEffect, useState, type DragEvent, type FormEvent } from 'react';
import { Link, NavLink, useNavigate, useParams } from 'react-router-dom';
import { call, uploadArchive, type App, type Project } from '../api';
import { useEvents } from '../live';
import { ConfirmButton, ErrorText, Status, useAction, useLoad, useTitle, Field } from '../ui';
import { Builds, Config, Containers, Deploys, Domains } from './AppTabs';
import { Logs } from './Logs';
import { Drains } from './Drains';
import { Alerts } from './Alerts';
import { Cron, Runs } from './Runs';
import { AppAddons, AppGuide } from './AppGuide';
import { Formation } from './Formation';
import { ActionProgress } from './ActionProgress';
import { track } from '../progress';
import type { AppProps } from './app-props';

// Charts are the heaviest code and only this tab needs them.
const Metrics = lazy(() => import('./Metrics').then((m) => ({ default: m.Metrics })));
// Settings forms are only for this tab (and keep the main chunk under Vite's 500 kB warning).
const SettingsTab = lazy(() => import('./SettingsTab').then((m) => ({ default: m.SettingsTab })));

const TABS = ['deploys', 'builds', 'logs', 'config', 'domains', 'metrics', 'alerts', 'containers', 'runs', 'cron', 'settings'] as const;
export type Tab = (typeof TABS)[number];

const tabName = (t: string) => t[0].toUpperCase() + t.slice(1);

export function AppPage() {
  const { slug = '', tab = 'deploys' } = useParams();
  const app = useLoad(() => call('getApp', { params: { id: slug } }), [slug]);
  const project = useLoad<Project | null>(() => (app.data ? call('getProject', { params: { id: app.data.project.id } }) : Promise.resolve(null)), [app.data?.project.id]);
  useEvents(() => app.reload(), (e) => e.app_id === app.data?.id);
  // The deploys tab is the app's front page: its title is the app's alone.
  useTitle(tab !== 'deploys' && TABS.includes(tab as Tab) ? tabName(tab) : null, app.data?.name ?? slug, 'Apps');
  // On a narrow screen the strip scrolls: the open tab is brought into view (a link to /apps/x/settings).
  const loaded = !!app.data;
  useEffect(() => {
    document.querySelector('.tabs a.active')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [tab, loaded]);
  if (app.error) return <ErrorText error={app.error} />;
  const a = app.data;
  if (!a) return <p className="loading">Loading…</p>;
  const canChange = !!project.data && project.data.role !== 'viewer';
  const props: AppProps = { app: a, canChange, reload: app.reload };
  return (
    <>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${encodeURIComponent(a.project.name)}`}>{a.project.name}</Link> /
      </p>
      <h1>{a.name}</h1>
      <Overview {...props} />
      <ActionProgress app={a} />
      <nav className="tabs" aria-label="App sections">
        {TABS.map((t) => (
          <NavLink key={t} to={`/apps/${encodeURIComponent(a.slug)}/${t}`} className={({ isActive }) => (isActive || (t === 'deploys' && tab === 'deploys') ? 'active' : '')}>
            {tabName(t)}
          </NavLink>
        ))}
      </nav>
      <div className="tab-body">
        {tab === 'deploys' && (
          <>
            <Deploys {...props} />
            <AppAddons app={a} />
            <AppGuide app={a} />
          </>
        )}
        {tab === 'builds' && <Builds {...props} />}
        {tab === 'logs' && (
          <>
            <Logs app={a} />
            <Drains {...props} />
          </>
        )}
        {tab === 'config' && <Config {...props} />}
        {tab === 'domains' && <Domains {...props} />}
        {tab === 'metrics' && (
          <Suspense fallback={<p className="loading">Loading…</p>}>
            <Metrics app={a} />
          </Suspense>
        )}
        {tab === 'alerts' && <Alerts {...props} />}
        {tab === 'containers' && <Containers {...props} />}
        {tab === 'runs' && <Runs {...props} />}
        {tab === 'cron' && <Cron {...props} />}
        {tab === 'settings' && (
          <Suspense fallback={<p className="loading">Loading…</p>}>
            <SettingsTab {...props} />
          </Suspense>
        )}
        {!TABS.includes(tab as Tab) && <p>There is no such tab.</p>}
      </div>
    </>
  );
}

/** Why Restart and Stop do nothing now, or null: with no live release there is nothing running to act on. */
export function nothingLive(a: App): string | null {
  if (a.release) return null;
  return a.status === 'failed' ? 'Nothing is live: the release failed. Deploy again or roll back first.' : 'Nothing is live yet: deploy first.';
}

/** A rolling restart, followed: the replicas serving before it are the ones it replaces. */
async function restart(a: App) {
  const before = (await call('listContainers', { query: { app: a.id } })).items.filter((c) => c.process_type === 'web' && c.status !== 'stopped').map((c) => c.id);
  await call('restartApp', { params: { id: a.id } });
  track(a.id, { kind: 'restart', before, replicas: a.replicas });
}

function Overview({ app: a, canChange, reload }: AppProps) {
  const navigate = useNavigate();
  const act = useAction();
  const idle = nothingLive(a);
  const [replicas, setReplicas] = useState(String(a.replicas));
  const scale = (e: FormEvent) => {
    e.preventDefault();
    void act.run(() => call('scaleApp', { params: { id: a.id }, body: { replicas: Number(replicas) } }).then((r) => (track(a.id, { kind: 'scale', replicas: r.replicas }), reload())));
  };
  return (
    <section aria-label="Overview" className="overview">
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <Status value={a.status} />
          </dd>
        </div>
        <div>
          <dt>Live release</dt>
          <dd>{a.release ? `v${a.release}` : 'none'}</dd>
        </div>
        <div>
          <dt>URL</dt>
          <dd>
            <a href={a.url} target="_blank" rel="noreferrer noopener">
              {a.url}
            </a>
          </dd>
        </div>
        <div>
          <dt>Image</dt>
          <dd className="mono">{a.image ?? '—'}</dd>
        </div>
        <div>
          <dt>Replicas</dt>
          <dd>{a.replicas}</dd>
        </div>
        <div>
          <dt>History</dt>
          <dd>
            <Link to={`/events?app=${encodeURIComponent(a.slug)}`}>Events of {a.name}</Link>
          </dd>
        </div>
      </dl>
      {canChange && (
        <div className="actions">
          <form onSubmit={scale} className="inline" aria-label="Scale">
            <label>
              Replicas
              <input type="number" min={0} max={100} value={replicas} onChange={(e) => setReplicas(e.target.value)} />
            </label>
            <button type="submit" disabled={act.busy}>
              Scale
            </button>
          </form>
          <Formation app={a} reload={reload} />
          <button type="button" disabled={act.busy || !!idle} title={idle ?? undefined} aria-describedby={idle ? 'nothing-live' : undefined} onClick={() => act.run(() => restart(a).then(reload))}>
            Restart
          </button>
          {a.status === 'stopped' ? (
            <button type="button" disabled={act.busy} onClick={() => act.run(() => call('startApp', { params: { id: a.id } }).then((r) => (track(a.id, { kind: 'start', replicas: r.replicas }), reload())))}>
              Start
            </button>
          ) : (
            <ConfirmButton label="Stop" disabled={idle} question={`Stop every replica of ${a.name}?`} onConfirm={() => call('stopApp', { params: { id: a.id } }).then(() => (track(a.id, { kind: 'stop' }), reload()))} />
          )}
          {idle && (
            <span id="nothing-live" className="muted small">
              {idle}
            </span>
          )}
          <ConfirmButton
            label="Delete app"
            question={`Delete ${a.name}, its releases and containers?`}
            typed={a.name}
            danger
            onConfirm={async () => {
              await call('deleteApp', { params: { id: a.id } });
              navigate(`/projects/${encodeURIComponent(a.project.name)}`);
            }}
          />
          <ErrorText error={act.error} />
          <Deploy app={a} reload={reload} canChange />
        </div>
      )}
    </section>
  );
}

function Deploy({ app: a, reload }: AppProps) {
  const navigate = useNavigate();
  const [image, setImage] = useState('');
  const [repo, setRepo] = useState('');
  const [branch, setBranch] = useState('main');
  const [dragging, setDragging] = useState(false);
  const act = useAction();
  const deployImage = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const r = await call('deployApp', { params: { id: a.id }, body: { image_id: image } });
      track(a.id, { kind: 'deploy', version: r.version, replicas: r.config.replicas });
      setImage('');
      reload();
      navigate(`/apps/${encodeURIComponent(a.slug)}/deploys`);
    });
  };
  const deployGit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const b = await call('createGitBuild', { params: { id: a.id }, body: { repo_url: repo, branch } });
      navigate(`/builds/${b.id}`);
    });
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    if (file) void upload(file);
  };
  const upload = (file: File) =>
    act.run(async () => {
      const b = await call('createBuild', { params: { id: a.id } });
      await uploadArchive(b.id, file);
      navigate(`/builds/${b.id}`);
    });
  return (
    <details className="deploy">
      <summary>Deploy</summary>
      <form onSubmit={deployImage} className="inline" aria-label="Deploy an image">
        <Field label="Image" value={image} onChange={setImage} required placeholder="registry/name:tag" />
        <button type="submit" className="primary" disabled={act.busy}>
          Deploy image
        </button>
      </form>
      <form onSubmit={deployGit} className="inline" aria-label="Build from git">
        <Field label="Git URL" value={repo} onChange={setRepo} required />
        <Field label="Branch" value={branch} onChange={setBranch} required />
        <button type="submit" disabled={act.busy}>
          Build from git
        </button>
      </form>
      <div
        className={`dropzone${dragging ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        <label>
          Drop a source archive (.tar.gz, .tar, .zip) here, or choose one
          <input type="file" accept=".gz,.tgz,.tar,.zip" onChange={(e) => e.target.files?.[0] && upload(e.target.files[0])} />
        </label>
      </div>
      <ErrorText error={act.error} />
    </details>
  );
}
