import { Settings } from './Settings';
import { RuntimeSettings } from './RuntimeSettings';
import { SourceSettings } from './SourceSettings';
import { Notifications } from './Notifications';
import type { AppProps } from './app-props';

/** The app's Settings tab: every field PUT /apps/{id} takes, and where it is told of its deploys (its own chunk: App.tsx loads it lazily). */
export function SettingsTab(props: AppProps) {
  return (
    <>
      <RuntimeSettings key={`runtime ${props.app.id}`} {...props} />
      <Settings key={props.app.id} {...props} />
      <SourceSettings {...props} />
      <Notifications {...props} />
    </>
  );
}
