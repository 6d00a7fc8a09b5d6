import { Link } from 'react-router-dom';
import { call, type App } from '../api';
import { CopyLine } from '../copy';
import { useEvents } from '../live';
import { ErrorText, Section, Status, useLoad } from '../ui';
import { addonKind } from './Addons';

/** The app's git remote (served at /git/{slug}.git by this server, the page's own origin). */
export const gitUrl = (a: App) => `${location.origin}/git/${a.slug}.git`;

/** What a developer looks for first: how to push to the app, the CLI lines for it, ready to copy. */
export function AppGuide({ app: a }: { app: App }) {
  return (
    <Section title="Deploy from your machine">
      <h3>With git</h3>
      <p className="muted">
        The password git asks for is an <Link to="/settings/tokens">API token</Link> (any user name). A push to <code>main</code> or <code>master</code> builds and
        deploys it.
      </p>
      <CopyLine label="git remote add" text={`git remote add berth ${gitUrl(a)}`} />
      <CopyLine label="git push" text="git push berth main" />
      <h3>With the CLI</h3>
      <CopyLine label="berth login" text={`berth login --server ${location.origin}`} />
      <CopyLine label="berth deploy" text={`berth deploy --app ${a.slug}`} />
      <CopyLine label="berth logs" text={`berth logs ${a.slug} -f`} />
      <CopyLine label="berth run" text={`berth run ${a.slug} -- sh`} />
      <CopyLine label="berth scale" text={`berth scale ${a.slug} ${a.replicas}`} />
    </Section>
  );
}

/** The project's add-ons attached to this app, with the config var each one set. */
export function AppAddons({ app: a }: { app: App }) {
  const addons = useLoad(() => call('listAddons', { query: { project: a.project.id } }), [a.project.id]);
  useEvents(() => addons.reload(), (e) => e.project_id === a.project.id && e.kind.startsWith('addon.'));
  const mine = (addons.data?.items ?? []).flatMap((x) => x.attachments.filter((t) => t.app === a.slug).map((t) => ({ addon: x, var: t.var })));
  return (
    <Section title="Add-ons">
      <ErrorText error={addons.error} />
      <ul className="plain">
        {mine.map(({ addon, var: v }) => (
          <li key={`${addon.id} ${v}`}>
            <Link to={`/addons/${addon.id}`}>{addon.name}</Link> {addonKind(addon)} <Status value={addon.status} /> as <code>{v}</code>
          </li>
        ))}
      </ul>
      {addons.data && mine.length === 0 && (
        <p className="muted">
          No add-ons attached. The project’s <Link to={`/projects/${encodeURIComponent(a.project.name)}/addons`}>add-ons</Link> can be attached from their page.
        </p>
      )}
    </Section>
  );
}
