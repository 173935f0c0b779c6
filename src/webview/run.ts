// Entry of the run view (dist/webview/run.js): one run, its verdict controls and the queue's next/previous.

import type { RunViewState } from '../protocol';
import { iconFontAfterLoad, pageRoot, renderInto } from './dom';
import { isRunViewState, pageStateOf } from './hostMessages';
import { runViewContent, type RunViewActions } from './runView';
import { connectToHost, embeddedState } from './vscodeApi';

const isRunPageState = pageStateOf(isRunViewState);
const root = pageRoot();
const host = connectToHost(isRunPageState);
const embedded = embeddedState(isRunPageState);
const saved = host.savedState();
const pageId = embedded?.pageId ?? null;
let state: RunViewState | undefined =
  saved && (!embedded || saved.pageId === embedded.pageId) ? saved.state : embedded?.state;

const actions: RunViewActions = {
  feedback: (runId, verdict) => host.post({ type: 'feedback', runId, verdict }),
  clear: (runId) => host.post({ type: 'clearVerdict', runId }),
  undo: (runId) => host.post({ type: 'undoVerdict', runId }),
  navigate: (direction) => host.post({ type: 'navigate', direction }),
};

function render(): void {
  renderInto(root, ...runViewContent(state, actions));
}

host.onMessage((message) => {
  if (message.type !== 'run') {
    console.warn(`Agent Learning: the run view ignores "${message.type}" messages`);
    return;
  }
  const newRun = state?.runId !== message.state.runId;
  state = message.state;
  host.saveState({ pageId, state });
  render();
  if (newRun) window.scrollTo(0, 0);
});
if (state) host.saveState({ pageId, state });
render();
iconFontAfterLoad();
host.post({ type: 'ready' });
