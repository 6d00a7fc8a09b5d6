import { Link } from 'react-router-dom';
import { call, type Build } from '../api';
import { useEvents } from '../live';
import { Status, useLoad } from '../ui';

/**
 * What became of a succeeded build: the release it made going live (its version, a link to the
 * app), or failing with the reason; or that it was not deployed (auto-deploy off).
 */
export function BuildOutcome({ build: b, reload }: { build: Build; reload: () => void }) {
  const releases = useLoad(() => (b.status === 'succeeded' ? call('listReleases', { params: { id: b.app.id } }) : Promise.resolve(null)), [b.app.id, b.status, b.release_id]);
  const rolling = b.status === 'succeeded' && !!b.release_id;
  const containers = useLoad(() => (rolling ? call('listContainers', { query: { app: b.app.id } }) : Promise.resolve(null)), [b.app.id, rolling]);
  // The release is made just after the build succeeds, and rolls out after that: follow the app's events.
  useEvents(
    () => (b.release_id ? void Promise.all([releases.reload(), containers.reload()]) : reload()),
    (e) => e.app_id === b.app.id,
  );
  if (b.status !== 'succeeded') return null;
  const r = releases.data?.items.find((x) => x.id === b.release_id);
  const healthy = (containers.data?.items ?? []).filter((c) => c.release === r?.version && c.process_type === 'web' && c.status === 'healthy').length;
  const app = <Link to={`/apps/${encodeURIComponent(b.app.slug)}`}>{b.app.slug}</Link>;
  let text;
  if (!b.release_id) text = <>Built. Waiting for its release (or not deployed: auto-deploy is off for {app}).</>;
  else if (!r) text = <>Built. Loading its release…</>;
  else if (r.status === 'live' || r.current) text = <>Release v{r.version} is live: {app}</>;
  else if (r.status === 'failed') text = <>Release v{r.version} failed: {r.reason ?? 'no reason given'}</>;
  else if (r.status === 'pending' || r.status === 'deploying') text = <>Release v{r.version} is rolling out to {app}: {healthy}/{r.config.replicas} replicas healthy…</>;
  else text = <>Release v{r.version} ({r.status}): {app}</>;
  return (
    <section aria-label="Release" className={`outcome${r?.status === 'failed' ? ' error' : ''}`}>
      <p role="status">
        {r && r.status !== 'live' && <Status value={r.status} />} {text}
      </p>
    </section>
  );
}
