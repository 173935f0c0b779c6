// Setting up a webview page (sidebar or dashboard): its options, its HTML, and its incoming messages — validated
// against the protocol, unknown ones logged and dropped.

import * as vscode from 'vscode';
import { webviewMessageSchema, type WebviewMessage } from '../protocol';
import { makeNonce, renderWebviewHtml } from './webviewHtml';

export type WebviewPageName = 'sidebar' | 'dashboard';

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

/**
 * Renders the page into `webview` and routes its messages: `ready` to `onReady` (send the state), the rest to
 * `onMessage`. The returned disposable stops listening.
 */
export function loadWebviewPage(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  page: WebviewPageName,
  output: vscode.OutputChannel,
  handlers: { onReady: () => unknown; onMessage: (message: WebviewMessage) => unknown },
): vscode.Disposable {
  const asUri = (...parts: string[]) =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  webview.html = renderWebviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: asUri('dist', 'webview', `${page}.js`),
    styleUris: [asUri('dist', 'webview', 'codicon.css'), asUri('media', `${page}.css`)],
    title: 'Agent Learning',
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
