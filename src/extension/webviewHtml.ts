// The HTML shell of every webview (sidebar, dashboard, run view): a strict nonce-based CSP, the stylesheet, an empty root, the state for the first
// paint (as JSON data, never markup) and one script; stylesheet and script inlined under the nonce (or linked, when
// their text could end its element).
// Pure (no vscode import) so the Chromium tests serve exactly what VS Code gets.

import { randomBytes } from 'node:crypto';

export type WebviewPageName = 'sidebar' | 'dashboard' | 'run';

/** The id of the element holding the embedded state (src/webview/vscodeApi.ts reads it). */
export const INITIAL_STATE_ID = 'initial-state';

export interface WebviewPageFiles {
  script: string[];
  style: string[];
}

/**
 * A page's script and stylesheet, as paths from the extension's root: the stylesheet holds the codicons, the
 * shared rules and the page's own (bundled by esbuild.js, so no `@import` chains a second request). Both go in the
 * HTML itself (pageResource) rather than load through VS Code's webview service worker, which costs tens of ms
 * before the script can run, more on a busy machine; the dashboard's 230 KB with Chart.js too. A page then has
 * nothing to load before its load event, and asks for the codicon font after it (media/common.css).
 */
export function webviewPageFiles(page: WebviewPageName): WebviewPageFiles {
  return { script: ['dist', 'webview', `${page}.js`], style: ['dist', 'webview', `${page}.css`] };
}

/** A file the page loads by URI, or its text put in the page itself (see pageResource). */
export type PageResource = { uri: string } | { text: string };

export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin the webview's local resources are served from. */
  cspSource: string;
  nonce: string;
  script: PageResource;
  style: PageResource;
  title: string;
  /** Data the page renders before any message from the host (a PageState of src/protocol.ts). */
  initialState?: unknown;
}

/** A fresh nonce per render: 128 random bits, base64 (the CSP grammar allows its alphabet). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * A script or stylesheet as the page gets it: its `text` goes in the HTML unless it would end its element early or
 * late; else (or without `text`) the page loads it from `uri`. A
 * stylesheet's relative `url(...)`s are made absolute against `uri`, where it would have been loaded from.
 */
export function pageResource(kind: 'script' | 'style', uri: string, text?: () => string): PageResource {
  if (!text) return { uri };
  const content = text();
  // In a script, `<!--` can also keep the parser from ending the element where it should.
  if ((kind === 'script' ? /<\/script|<!--/i : /<\/style/i).test(content)) return { uri };
  if (kind === 'script') return { text: content };
  return {
    text: content.replace(
      /url\((["']?)(\.{1,2}\/[^"')]*)\1\)/g,
      (_match, _quote: string, relative: string) => `url("${new URL(relative, uri).toString()}")`,
    ),
  };
}

export function renderWebviewHtml({
  cspSource,
  nonce,
  script,
  style,
  title,
  initialState,
}: WebviewHtmlOptions): string {
  // No 'unsafe-inline' anywhere: the page's DOM is built by the script, and what runs or styles the page comes
  // from the extension's files, as files or as elements carrying the nonce.
  const nonceSource = `'nonce-${nonce}'`;
  const csp = [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    'text' in style ? `style-src ${cspSource} ${nonceSource}` : `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src ${nonceSource}`,
  ].join('; ');
  const nonceAttribute = `nonce="${escapeAttribute(nonce)}"`;
  const head = [
    'text' in style
      ? `<style ${nonceAttribute}>${style.text}</style>`
      : `<link rel="stylesheet" href="${escapeAttribute(style.uri)}">`,
  ];
  // A data block, not a script: browsers never run type="application/json"; the page parses it as JSON.
  const body = [
    '<div id="root"></div>',
    ...(initialState === undefined
      ? []
      : [
          `<script type="application/json" id="${INITIAL_STATE_ID}" ${nonceAttribute}>` +
            `${jsonForScriptElement(initialState)}</script>`,
        ]),
    'text' in script
      ? `<script ${nonceAttribute}>${script.text}</script>`
      : `<script ${nonceAttribute} src="${escapeAttribute(script.uri)}"></script>`,
  ];
  const indent = (lines: string[]) => lines.map((line) => `    ${line}\n`).join('');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)};">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
${indent(head)}    <title>${escapeText(title)}</title>
  </head>
  <body>
${indent(body)}  </body>
</html>
`;
}

/**
 * JSON that can sit inside a <script> element: the HTML parser ends the element at the first `</script` (and
 * `<!--` changes how it scans), so every `<`, `>` and `&` is written as a JSON escape; JSON.parse reads the same
 * value back. U+2028 and U+2029 are escaped too, so the text stays valid JavaScript as well.
 */
function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(value: string): string {
  // Every attribute here is double-quoted, so single quotes (the CSP's 'none', 'nonce-…') stay as they are.
  return escapeText(value).replace(/"/g, '&quot;');
}
