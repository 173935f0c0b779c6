// The HTML shell of both webviews: a strict nonce-based CSP, the stylesheets, an empty root and one script.
// Pure (no vscode import) so the Chromium tests serve exactly what VS Code gets.

import { randomBytes } from 'node:crypto';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin the webview's local resources are served from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUris: readonly string[];
  title: string;
}

/** A fresh nonce per render: 128 random bits, base64 (the CSP grammar allows its alphabet). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

export function renderWebviewHtml({
  cspSource,
  nonce,
  scriptUri,
  styleUris,
  title,
}: WebviewHtmlOptions): string {
  // No 'unsafe-inline' anywhere: the page's DOM is built by the script, and styles come only from files.
  const csp = [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const styles = styleUris
    .map((uri) => `    <link rel="stylesheet" href="${escapeAttribute(uri)}">`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)};">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
${styles}
    <title>${escapeText(title)}</title>
  </head>
  <body>
    <div id="root"></div>
    <script nonce="${escapeAttribute(nonce)}" src="${escapeAttribute(scriptUri)}"></script>
  </body>
</html>
`;
}

function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(value: string): string {
  // Every attribute here is double-quoted, so single quotes (the CSP's 'none', 'nonce-…') stay as they are.
  return escapeText(value).replace(/"/g, '&quot;');
}
