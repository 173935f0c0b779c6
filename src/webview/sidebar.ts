// Entry of the sidebar webview (dist/webview/sidebar.js): shows the saved state at once, then the host's.

import type { SidebarState, Verdict } from '../protocol';
import { startAgeClock } from './ageClock';
import { pageRoot, renderInto } from './dom';
import { isSidebarState } from './hostMessages';
import { sidebarContent, type SidebarActions } from './sidebarView';
import { connectToHost } from './vscodeApi';

const root = pageRoot();
const host = connectToHost(isSidebarState);
let state: SidebarState | undefined = host.savedState();

const actions: SidebarActions = {
  feedback(runId: string, verdict: Verdict) {
    host.post({ type: 'feedback', runId, verdict });
    // Show the verdict now; the host's next state (with the reward it changed) confirms it.
    if (state) {
      state = {
        ...state,
        recentRuns: state.recentRuns.map((r) => (r.id === runId ? { ...r, human: verdict } : r)),
      };
      host.saveState(state);
      render();
    }
  },
  command: (command) => host.post({ type: 'command', command }),
};

function render(): void {
  renderInto(root, ...sidebarContent(state, actions, Date.now()));
}

host.onMessage((message) => {
  if (message.type !== 'sidebar') {
    console.warn(`Agent Learning: the sidebar ignores "${message.type}" messages`);
    return;
  }
  state = message.state;
  host.saveState(state);
  render();
});
render();
startAgeClock(root);
host.post({ type: 'ready' });
