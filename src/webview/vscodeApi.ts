// The page's side of the webview bridge: VS Code's acquireVsCodeApi, typed to the protocol, plus the saved state
// that lets a view come back as it was after being hidden or reloaded, and the state the host embedded in the HTML.

import type { HostMessage, WebviewMessage } from '../protocol';
import type { Check } from './guards';
import { readHostMessage } from './hostMessages';

/** What VS Code injects into every webview; callable once per page. */
interface VsCodeWebviewApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeWebviewApi;

export interface HostBridge<S> {
  post(message: WebviewMessage): void;
  /** The state saved by an earlier page of this view, if it still matches today's protocol. */
  savedState(): S | undefined;
  saveState(state: S): void;
  /** Calls `handler` with every protocol message from the host; anything else is logged and dropped. */
  onMessage(handler: (message: HostMessage) => void): void;
}

/** webviewHtml.ts's INITIAL_STATE_ID (not imported: that module is Node code; the Chromium tests hold both). */
const INITIAL_STATE_ID = 'initial-state';

/**
 * The state the host embedded in the page's HTML (src/extension/webviewHtml.ts) for the first paint, if any and
 * if it matches today's protocol.
 */
export function embeddedState<S>(isState: Check<S>): S | undefined {
  const text = document.getElementById(INITIAL_STATE_ID)?.textContent;
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (isState(value)) return value;
  } catch {
    // reported below
  }
  console.warn('Agent Learning: ignoring an embedded state that is not in the protocol');
  return undefined;
}

export function connectToHost<S>(isState: Check<S>): HostBridge<S> {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    savedState: () => {
      const saved = api.getState();
      return isState(saved) ? saved : undefined;
    },
    saveState: (state) => api.setState(state),
    onMessage: (handler) =>
      window.addEventListener('message', (event: MessageEvent<unknown>) => {
        const message = readHostMessage(event.data);
        if (message) handler(message);
      }),
  };
}
