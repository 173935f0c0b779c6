// Setting up a webview page (sidebar or dashboard): its options, its HTML, and its incoming messages — validated
// against the protocol, unknown ones logged and dropped.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { webviewMessageSchema, type WebviewMessage } from '../protocol';
import {
  makeNonce,
  pageResource,
  renderWebviewHtml,
  webviewPageFiles,
  type PageResource,
  type WebviewPageName,
} from './webviewHtml';

export type { WebviewPageName } from './webviewHtml';

/** Scripts allowed; local resources only from dist/ and media/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'dist'),
      vscode.Uri.joinPath(extensionUri, 'media'),
    ],
  };
}

export interface WebviewPageHandlers {
  onReady: () => unknown;
  onMessage: (message: WebviewMessage) => unknown;
  /** Embedded in the HTML (a PageState of src/protocol.ts), so the first paint waits for no message. */
  initialState?: unknown;
}

/**
 * Renders the page into `webview` and routes its messages: `ready` to `onReady` (send the state), the rest to
 * `onMessage`. The returned disposable stops listening.
 */
export function loadWebviewPage(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  page: WebviewPageName,
  output: vscode.OutputChannel,
  handlers: WebviewPageHandlers,
): vscode.Disposable {
  const files = webviewPageFiles(page);
  const resource = (kind: 'script' | 'style', parts: string[]): PageResource => {
    const file = vscode.Uri.joinPath(extensionUri, ...parts);
    return pageResource(kind, webview.asWebviewUri(file).toString(), () =>
      fs.readFileSync(file.fsPath, 'utf8'),
    );
  };
  webview.html = renderWebviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    script: resource('script', files.script),
    style: resource('style', files.style),
    title: 'Agent Learning',
    initialState: handlers.initialState,
  });
  return webview.onDidReceiveMessage((raw: unknown) => {
    const parsed = webviewMessageSchema.safeParse(raw);
    if (!parsed.success) {
      output.appendLine(`Ignored an unknown webview message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const message = parsed.data;
    Promise.resolve(message.type === 'ready' ? handlers.onReady() : handlers.onMessage(message)).catch(
      (err: unknown) => output.appendLine(`❌ ${err instanceof Error ? err.message : String(err)}`),
    );
  });
}
