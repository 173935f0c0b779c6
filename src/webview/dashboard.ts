// Entry of the dashboard webview (dist/webview/dashboard.js): shows the saved state at once, then the host's,
// and live training progress between states.

import { iconFontAfterLoad, pageRoot } from './dom';
import { startAgeClock } from './ageClock';
import { DashboardView } from './dashboardView';
import { isDashboardState } from './hostMessages';
import { onThemeChange } from './theme';
import { connectToHost } from './vscodeApi';

const root = pageRoot();
const host = connectToHost(isDashboardState);
const view = new DashboardView(root);
view.render(host.savedState());

function save(): void {
  const state = view.current();
  if (state) host.saveState(state);
}

host.onMessage((message) => {
  switch (message.type) {
    case 'dashboard':
      view.render(message.state);
      save();
      return;
    case 'training':
      view.setTraining(message.progress);
      save();
      return;
    default:
      console.warn(`Agent Learning: the dashboard ignores "${message.type}" messages`);
  }
});
onThemeChange(() => view.retheme());
startAgeClock(root);
iconFontAfterLoad();
host.post({ type: 'ready' });
