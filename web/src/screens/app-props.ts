import type { App } from '../api';

/**
 * What the app page (App.tsx) hands each of its tabs. Its own file: the tabs (AppTabs, Runs,
 * Settings) import it, and App.tsx imports the tabs, so it cannot live in App.tsx without a cycle.
 */
export interface AppProps {
  app: App;
  canChange: boolean;
  reload: () => void;
}
