// Receiving messages from a webview: validated against the protocol, unknown ones logged and dropped.

import type * as vscode from 'vscode';
import { webviewMessageSchema, type WebviewMessage } from '../protocol';

export function onWebviewMessage(
  webview: vscode.Webview,
  output: vscode.OutputChannel,
  handle: (message: WebviewMessage) => unknown,
): vscode.Disposable {
  return webview.onDidReceiveMessage((raw: unknown) => {
    const parsed = webviewMessageSchema.safeParse(raw);
    if (!parsed.success) {
      output.appendLine(`Ignored an unknown webview message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    Promise.resolve(handle(parsed.data)).catch((err: unknown) =>
      output.appendLine(`❌ ${err instanceof Error ? err.message : String(err)}`),
    );
  });
}
