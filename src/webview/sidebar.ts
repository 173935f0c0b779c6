// Entry of the sidebar webview (dist/webview/sidebar.js): shows the newest state it has at once (the one embedded
// in its HTML, or the one it saved), then the host's.

import type { SidebarState, Verdict } from '../protocol';
import { startAgeClock } from './ageClock';
import { iconFontAfterLoad, pageRoot, renderInto } from './dom';
import { isSidebarState, pageStateOf } from './hostMessages';
import { RovingFocus } from './rovingFocus';
import { sidebarContent, type SidebarActions } from './sidebarView';
import { connectToHost, embeddedState } from './vscodeApi';

const isSidebarPageState = pageStateOf(isSidebarState);
const root = pageRoot();
const host = connectToHost(isSidebarPageState);
const embedded = embeddedState(isSidebarPageState);
const saved = host.savedState();
/** Marks the states this HTML saves (see PageState). */
const pageId = embedded?.pageId ?? null;
// A state saved by a page of this same HTML is newer than the one it embeds; any other saved state is older.
let state: SidebarState | undefined =
  saved && (!embedded || saved.pageId === embedded.pageId) ? saved.state : embedded?.state;

function keep(next: SidebarState): void {
  state = next;
  host.saveState({ pageId, state });
}

const actions: SidebarActions = {
  feedback(runId: string, verdict: Verdict) {
    host.post({ type: 'feedback', runId, verdict });
    // Show the verdict now; the host's next state (with the reward it changed) confirms it.
    if (state) {
      keep({
        ...state,
        recentRuns: state.recentRuns.map((r) => (r.id === runId ? { ...r, human: verdict } : r)),
      });
      render();
    }
  },
  openRun: (runId) => host.post({ type: 'openRun', runId }),
  command: (command) => host.post({ type: 'command', command }),
  copy: (text) => host.post({ type: 'copy', text }),
};

const runFocus = new RovingFocus();

function render(): void {
  renderInto(root, ...sidebarContent(state, actions, Date.now(), runFocus));
}

host.onMessage((message) => {
  if (message.type !== 'sidebar') {
    console.warn(`Agent Learning: the sidebar ignores "${message.type}" messages`);
    return;
  }
  keep(message.state);
  render();
});
// Saved at once, so that what the page shows is always what it saved.
if (state) keep(state);
render();
startAgeClock(root);
iconFontAfterLoad();
host.post({ type: 'ready' });
