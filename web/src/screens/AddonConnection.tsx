import { useState } from 'react';
import { call, type Addon } from '../api';
import { CopyLine } from '../copy';
import { ErrorText, Section, useAction } from '../ui';

/**
 * The add-on's connection URL, fetched only when a developer clicks Reveal (GET /addons/{id}/url;
 * viewers are refused it, so they see it masked with no button), and the CLI line that opens a session.
 */
export function AddonConnection({ addon: a, canChange }: { addon: Addon; canChange: boolean }) {
  const [url, setUrl] = useState<string | null>(null);
  const act = useAction();
  const scheme = a.type === 'postgres' ? 'postgres' : 'redis';
  const masked = `${scheme}://••••••••@${a.host}:${a.port}${a.type === 'postgres' ? '/••••' : ''}`;
  const client = a.type === 'postgres' ? 'psql' : 'redis-cli';
  return (
    <Section title="Connection">
      <p className="muted">Reachable from the apps of project {a.project.name} only (the project’s network). Attaching sets it as a secret config var.</p>
      {url ? (
        <>
          <CopyLine label="Connection URL" text={url} />
          <button type="button" onClick={() => setUrl(null)}>
            Hide
          </button>
        </>
      ) : (
        <div className="copy-line" role="group" aria-label="Connection URL">
          <code className="mono">{masked}</code>
          {canChange ? (
            <button type="button" disabled={act.busy} onClick={() => act.run(async () => setUrl((await call('getAddonUrl', { params: { id: a.id }, query: {} })).url))}>
              Reveal
            </button>
          ) : (
            <span className="muted small">developers can reveal it</span>
          )}
        </div>
      )}
      <ErrorText error={act.error} />
      <h3>Open a {client} session</h3>
      <CopyLine label={`berth addons ${client}`} text={`berth addons ${client} ${a.name} --project ${a.project.name}`} />
    </Section>
  );
}
