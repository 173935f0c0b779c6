// Serves the built webview bundles in real Chromium the way VS Code does: the HTML from renderWebviewHtml (real
// CSP, fresh nonce) over http on 127.0.0.1, the --vscode-* theme variables and body class set on the page, and a
// stand-in for acquireVsCodeApi that records posted messages and keeps state across reloads (sessionStorage).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  makeNonce,
  pageResource,
  renderWebviewHtml,
  webviewPageFiles,
} from '../../../src/extension/webviewHtml';
import { THEMES, type ThemeName } from './themes';

declare global {
  interface Window {
    __posted: unknown[];
    __cspViolations: string[];
    __pwned?: unknown;
  }
}

const ROOT = path.resolve(__dirname, '../../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'webview');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SERVED = ['dist/webview/'];
const STAND_IN = fs.readFileSync(path.join(__dirname, 'vscodeStandIn.js'), 'utf8');
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export type View = 'sidebar' | 'dashboard' | 'run';

export class Harness {
  private constructor(
    private readonly server: http.Server,
    readonly origin: string,
    readonly browser: Browser,
  ) {}

  static async start(): Promise<Harness> {
    for (const bundle of [
      'dist/webview/sidebar.js',
      'dist/webview/dashboard.js',
      'dist/webview/sidebar.css',
      'dist/webview/dashboard.css',
      'dist/webview/run.js',
      'dist/webview/run.css',
    ]) {
      if (!fs.existsSync(path.join(ROOT, bundle)))
        throw new Error(`${bundle} is missing: run npm run build first`);
    }
    const server = http.createServer((req, res) => serve(req, res, origin));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    return new Harness(server, origin, browser);
  }

  async open(
    view: View,
    options: { theme?: ThemeName; width?: number; height?: number } = {},
  ): Promise<WebviewPage> {
    const context = await this.browser.newContext({
      locale: 'en-US',
      timezoneId: 'UTC',
      viewport: { width: options.width ?? (view === 'sidebar' ? 320 : 1200), height: options.height ?? 900 },
    });
    // Every wait here is for something the page does at once; ten seconds means it never will.
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const webview = new WebviewPage(context, page, view);
    const theme = THEMES[options.theme ?? 'dark'];
    const setup = {
      vars: theme.vars,
      bodyClass: theme.bodyClass,
      // VS Code paints the webview's frame in the view's background; a sidebar page itself stays transparent.
      background: view === 'sidebar' ? 'var(--vscode-sideBar-background)' : 'var(--vscode-editor-background)',
    };
    await page.addInitScript({ content: `${STAND_IN}\ninstallVsCodeStandIn(${JSON.stringify(setup)});` });
    await page.goto(`${this.origin}/${view}.html`);
    await webview.waitForPosted((m) => m.type === 'ready');
    return webview;
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** States to embed in a page's HTML, by the `embed` query parameter of its URL (WebviewPage.load). */
const embeddedStates = new Map<string, unknown>();

function serve(req: http.IncomingMessage, res: http.ServerResponse, origin: string): void {
  const url = new URL(req.url ?? '/', origin);
  const page = /^\/(sidebar|dashboard|run)\.html$/.exec(url.pathname)?.[1];
  if (page) {
    const files = webviewPageFiles(page as View);
    // As webviewPage.ts does it: the same files, inlined the same way.
    const resource = (kind: 'script' | 'style', parts: string[]) =>
      pageResource(kind, `${origin}/${parts.join('/')}`, () =>
        fs.readFileSync(path.join(ROOT, ...parts), 'utf8'),
      );
    const html = renderWebviewHtml({
      cspSource: origin,
      nonce: makeNonce(),
      script: resource('script', files.script),
      style: resource('style', files.style),
      title: 'Agent Learning',
      initialState: embeddedStates.get(url.searchParams.get('embed') ?? ''),
    });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
    return;
  }
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204).end(); // Chromium asks for one; VS Code's webviews have none
    return;
  }
  const relative = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const file = path.resolve(ROOT, relative);
  if (
    !SERVED.some((dir) => relative.startsWith(dir)) ||
    !file.startsWith(ROOT + path.sep) ||
    !fs.existsSync(file)
  ) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
  res.end(fs.readFileSync(file));
}

export class WebviewPage {
  /** Console errors and page errors; a test fails if any appear where none are expected. */
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly view: View,
  ) {
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(message.text());
      if (message.type() === 'warning') this.warnings.push(message.text());
    });
    page.on('pageerror', (error) => this.errors.push(String(error)));
    page.on('response', (response) => {
      if (response.status() >= 400) this.errors.push(`${response.status()} ${response.url()}`);
    });
  }

  /**
   * Delivers a message the way VS Code's host does (a `message` event on the page's window) and resolves once the
   * page has handled it: a listener added now runs after the page's own, which renders synchronously.
   */
  async send(message: unknown): Promise<void> {
    await this.page.evaluate(
      (m) =>
        new Promise<void>((resolve) => {
          window.addEventListener('message', () => resolve(), { once: true });
          window.postMessage(m, '*');
        }),
      message,
    );
  }

  /**
   * Loads the page again, its HTML carrying `initialState` the way the host embeds it, in the same tab (so what
   * the page saved with setState is still there), and resolves once the new page has said it is ready.
   */
  async load(initialState: unknown): Promise<void> {
    const key = String(embeddedStates.size + 1);
    embeddedStates.set(key, initialState);
    const url = new URL(this.page.url());
    url.search = `?embed=${key}`;
    await this.page.goto(url.toString());
    await this.waitForPosted((m) => m.type === 'ready');
  }

  async posted(): Promise<Record<string, unknown>[]> {
    return this.page.evaluate(() => window.__posted as Record<string, unknown>[]);
  }

  async waitForPosted(predicate: (message: Record<string, unknown>) => boolean): Promise<void> {
    // Clicks post synchronously, so by the time a click resolves the message is recorded; poll for page loads.
    await this.page.waitForFunction(() => window.__posted.length > 0);
    for (;;) {
      if ((await this.posted()).some(predicate)) return;
      const count = (await this.posted()).length;
      await this.page.waitForFunction((n) => window.__posted.length > n, count);
    }
  }

  /** The computed value of a CSS property on the first element matching `selector` (':root' for <html>). */
  async css(selector: string, property: string): Promise<string> {
    return this.page
      .locator(selector)
      .first()
      .evaluate((element, p) => getComputedStyle(element).getPropertyValue(p), property);
  }

  /**
   * What a chart's canvas holds: how many pixels are drawn on, and how many are within a small distance of `rgb`
   * (a theme colour the chart should draw with).
   */
  async canvasInk(
    selector: string,
    rgb: [number, number, number],
    tolerance = 40,
  ): Promise<{ inked: number; matching: number }> {
    return this.page.locator(selector).evaluate(
      (element, { rgb: [r, g, b], tolerance }) => {
        const canvas = element as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        let matching = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3]! < 16) continue;
          inked++;
          if (Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) < tolerance)
            matching++;
        }
        return { inked, matching };
      },
      { rgb, tolerance },
    );
  }

  /**
   * Once the page has asked for its icon font (after its load event) and the font has loaded: every file the page
   * fetched, and whether it asked only after its load event.
   */
  async loadsOnceIconsShow(): Promise<{ file: string | undefined; afterLoad: boolean }[]> {
    await this.page.waitForFunction(() => document.documentElement.classList.contains('codicons'));
    await this.page.evaluate(() => document.fonts.ready);
    return this.page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return performance
        .getEntriesByType('resource')
        .filter((r) => !r.name.endsWith('/favicon.ico')) // the harness's Chromium asks; VS Code's webviews don't
        .map((r) => ({ file: r.name.split('/').pop(), afterLoad: r.startTime >= nav.loadEventStart }));
    });
  }

  async cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => window.__cspViolations);
  }

  async pwned(): Promise<unknown> {
    return this.page.evaluate(() => window.__pwned);
  }

  /** Switches theme the way VS Code does while a webview is open: new variables on <html>, new body class. */
  async setTheme(name: ThemeName): Promise<void> {
    const theme = THEMES[name];
    await this.page.evaluate(
      ({ vars, bodyClass }) => {
        for (const [key, value] of Object.entries(vars))
          document.documentElement.style.setProperty(key, value);
        document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast');
        document.body.classList.add(bodyClass);
      },
      { vars: theme.vars, bodyClass: theme.bodyClass },
    );
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * Mocha hooks for a describe block that tests one page: a harness for the block, and after each test the page
 * is closed — and a test that passed must also have left a clean console and no CSP violation.
 * Returns `open(theme, width)` for the tests.
 */
export function usePage(page: View): (theme?: ThemeName, width?: number) => Promise<WebviewPage> {
  let harness: Harness;
  let view: WebviewPage | undefined;

  before(async () => {
    harness = await Harness.start();
  });

  after(async () => {
    await harness?.close();
  });

  afterEach(async function () {
    if (!view) return;
    const errors = view.errors;
    const violations = await view.cspViolations();
    await view.close();
    view = undefined;
    if (this.currentTest?.state === 'passed') {
      assert.deepEqual(errors, [], 'console errors');
      assert.deepEqual(violations, [], 'CSP violations');
    }
  });

  return async (theme = 'dark', width) => {
    view = await harness.open(page, { theme, ...(width ? { width } : {}) });
    return view;
  };
}
