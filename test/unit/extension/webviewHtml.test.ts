import assert from 'node:assert/strict';
import {
  INITIAL_STATE_ID,
  makeNonce,
  pageResource,
  renderWebviewHtml,
  webviewPageFiles,
} from '../../../src/extension/webviewHtml';

describe('webview HTML', () => {
  const origin = 'https://file+.vscode-resource.vscode-cdn.net';
  const options = {
    cspSource: origin,
    nonce: 'abc123+/=',
    script: { uri: `${origin}/ext/dist/webview/dashboard.js` },
    style: { uri: `${origin}/ext/dist/webview/dashboard.css` },
    title: 'Agent Learning',
  };
  const scripts = (html: string) =>
    [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => [m[1], m[2]]);

  it('sets a strict CSP: nothing by default, resources from the webview origin, scripts only with the nonce', () => {
    const html = renderWebviewHtml(options);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
    assert.equal(
      csp,
      `default-src 'none'; img-src ${origin} data:; style-src ${origin}; font-src ${origin}; ` +
        "script-src 'nonce-abc123+/=';",
    );
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
  });

  it('has one root, the linked stylesheet and one linked script with the nonce, and nothing inline', () => {
    const html = renderWebviewHtml(options);
    assert.equal(html.match(/<div id="root"><\/div>/g)?.length, 1);
    assert.deepEqual(
      [...html.matchAll(/<link rel="stylesheet" href="([^"]*)">/g)].map((m) => m[1]),
      [options.style.uri],
    );
    assert.equal(html.match(/<link/g)?.length, 1, 'no preload: fonts load after the page (media/common.css)');
    assert.deepEqual(scripts(html), [[` nonce="abc123+/=" src="${options.script.uri}"`, '']]);
    assert.doesNotMatch(html, /<style|style=|\son[a-z]+=/i);
  });

  it('puts an inlined script and stylesheet in nonce-carrying elements, adding only the nonce to the CSP', () => {
    const html = renderWebviewHtml({
      ...options,
      script: { text: 'document.title = "x";' },
      style: { text: 'body { color: red; }' },
    });
    assert.match(html, /style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net 'nonce-abc123\+\/=';/);
    assert.match(html, /<style nonce="abc123\+\/=">body \{ color: red; \}<\/style>/);
    assert.deepEqual(scripts(html), [[' nonce="abc123+/="', 'document.title = "x";']]);
    assert.doesNotMatch(html, /<link|unsafe-inline|\son[a-z]+=/i);
  });

  it('embeds the initial state as JSON that no string in it can break out of', () => {
    const state = {
      pageId: 'p1',
      state: {
        slug: '</script><script>window.__pwned=1</script>',
        comment: '<!-- <script>',
        amp: 'a & b > c',
        separators: 'line\u2028paragraph\u2029end',
      },
    };
    const html = renderWebviewHtml({ ...options, initialState: state });
    const found = scripts(html);
    assert.equal(found.length, 2, 'the data block and the page script, nothing more');
    const [attributes, json] = found[0]!;
    assert.equal(attributes, ` type="application/json" id="${INITIAL_STATE_ID}" nonce="abc123+/="`);
    assert.doesNotMatch(json!, /[<>&\u2028\u2029]/);
    assert.deepEqual(JSON.parse(json!), state);
  });

  it("inlines a page only when its text cannot end its element, and rebases the stylesheet's urls", () => {
    const uri = `${origin}/ext/dist/webview/sidebar.css`;
    assert.deepEqual(pageResource('script', 'a.js'), { uri: 'a.js' });
    assert.deepEqual(
      pageResource('script', 'a.js', () => 'x()'),
      { text: 'x()' },
    );
    assert.deepEqual(
      pageResource('script', 'a.js', () => 'x("</SCRIPT>")'),
      { uri: 'a.js' },
    );
    assert.deepEqual(
      pageResource('script', 'a.js', () => 'x("<!--")'),
      { uri: 'a.js' },
    );
    assert.deepEqual(
      pageResource('style', uri, () => 'a{content:"</style>"}'),
      { uri },
    );
    assert.deepEqual(
      pageResource(
        'style',
        uri,
        () => '@font-face{src:url("./codicon.ttf") format("truetype")}a{b:url(../x.svg)}',
      ),
      {
        text:
          `@font-face{src:url("${origin}/ext/dist/webview/codicon.ttf") format("truetype")}` +
          `a{b:url("${origin}/ext/dist/x.svg")}`,
      },
    );
  });

  it("names each page's own bundled script and stylesheet", () => {
    assert.deepEqual(webviewPageFiles('sidebar'), {
      script: ['dist', 'webview', 'sidebar.js'],
      style: ['dist', 'webview', 'sidebar.css'],
    });
    assert.deepEqual(webviewPageFiles('dashboard'), {
      script: ['dist', 'webview', 'dashboard.js'],
      style: ['dist', 'webview', 'dashboard.css'],
    });
  });

  it('escapes what it puts in attributes and text', () => {
    const html = renderWebviewHtml({
      ...options,
      title: '</title><script>x()</script>',
      script: { uri: 'a"b' },
    });
    assert.match(html, /<title>&lt;\/title&gt;&lt;script&gt;x\(\)&lt;\/script&gt;<\/title>/);
    assert.match(html, /src="a&quot;b"/);
  });

  it('makes a fresh base64 nonce of 128 bits each time', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => makeNonce()));
    assert.equal(nonces.size, 100);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  });
});
