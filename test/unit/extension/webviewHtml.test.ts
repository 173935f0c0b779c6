import assert from 'node:assert/strict';
import { makeNonce, renderWebviewHtml } from '../../../src/extension/webviewHtml';

describe('webview HTML', () => {
  const options = {
    cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
    nonce: 'abc123+/=',
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/sidebar.js',
    styleUris: [
      'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/codicon.css',
      'https://file+.vscode-resource.vscode-cdn.net/ext/media/sidebar.css',
    ],
    title: 'Agent Learning',
  };

  it('sets a strict CSP: nothing by default, resources from the webview origin, scripts only with the nonce', () => {
    const html = renderWebviewHtml(options);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
    assert.equal(
      csp,
      "default-src 'none'; img-src https://file+.vscode-resource.vscode-cdn.net data:; " +
        'style-src https://file+.vscode-resource.vscode-cdn.net; font-src https://file+.vscode-resource.vscode-cdn.net; ' +
        "script-src 'nonce-abc123+/=';",
    );
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
  });

  it('has one root, the stylesheets, and one script with the nonce, and nothing inline', () => {
    const html = renderWebviewHtml(options);
    assert.equal(html.match(/<div id="root"><\/div>/g)?.length, 1);
    assert.deepEqual(
      [...html.matchAll(/<link rel="stylesheet" href="([^"]*)">/g)].map((m) => m[1]),
      options.styleUris,
    );
    assert.deepEqual(
      [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => [m[1], m[2]]),
      [[` nonce="abc123+/=" src="${options.scriptUri}"`, '']],
    );
    assert.doesNotMatch(html, /<style|style=|\son[a-z]+=/i);
  });

  it('escapes what it puts in attributes and text', () => {
    const html = renderWebviewHtml({ ...options, title: '</title><script>x()</script>', scriptUri: 'a"b' });
    assert.match(html, /<title>&lt;\/title&gt;&lt;script&gt;x\(\)&lt;\/script&gt;<\/title>/);
    assert.match(html, /src="a&quot;b"/);
  });

  it('makes a fresh base64 nonce of 128 bits each time', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => makeNonce()));
    assert.equal(nonces.size, 100);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  });
});
