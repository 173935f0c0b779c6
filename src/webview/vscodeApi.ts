// The page's side of the webview bridge: VS Code's acquireVsCodeApi, typed to the protocol, plus the saved state
// that lets a view come back as it was after being hidden or reloaded.

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
