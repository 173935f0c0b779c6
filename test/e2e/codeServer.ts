// A real VS Code for the e2e suite: code-server 4.104.0 (VS Code 1.104.0, installed by test/e2e/setup.sh with the
// Node 22 it needs) driven by Debian's Chromium through playwright-core. Each session gets a fresh user-data-dir,
// a free loopback port and its own browser; close() ends code-server's whole process group. See shared/notes/real-vscode-e2e.md.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';
import { waitFor, withDeadline, type WaitOptions } from './wait';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** Keep in step with test/e2e/setup.sh, which installs both. */
export const CODE_SERVER_VERSION = '4.104.0';
/** VS Code inside that code-server: the first with the language-model chat provider API. */
export const VSCODE_VERSION = '1.104.0';
export const CODE_SERVER_DIR = path.join(REPO_ROOT, `.vscode-test/code-server-${CODE_SERVER_VERSION}`);
/** code-server's entry script, run by CODE_SERVER_NODE (its bin's `#!/usr/bin/env node` would take Node 20). */
export const CODE_SERVER_ENTRY = path.join(CODE_SERVER_DIR, 'node_modules/code-server/out/node/entry.js');
/** code-server >= 4.104 needs Node 22: the npm registry's `node` package, installed by setup.sh. */
export const CODE_SERVER_NODE = path.join(REPO_ROOT, '.vscode-test/node-22/node_modules/node/bin/node');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test-artifacts/e2e');
export const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How the session answers the Workspace Trust dialog. */
export type TrustAnswer = 'trust' | 'restrict';

export interface SessionOptions {
  /** The folder VS Code opens. */
  workspace: string;
  /** An extensions dir prepared by installExtensions(); shared read-only by the sessions of a run. */
  extensionsDir: string;
  /** Default 'trust'. 'restrict' opens the workspace in Restricted Mode. */
  trust?: TrustAnswer;
  /** Merged over the suite's defaults in the fresh user-data-dir's settings.json. */
  userSettings?: Record<string, unknown>;
  /**
   * The remote machine's user settings (`Machine/settings.json`, the settings editor's "Remote" tab). A code-server
   * window is a remote one: it reads `machine` and `machine-overridable` settings from here (or the workspace),
   * never from `userSettings`.
   */
  machineSettings?: Record<string, unknown>;
  /** Used in screenshot and log names. */
  name: string;
  /** For starting code-server and loading the workbench (default 90 s: cold starts on 2 cores are slow). */
  startTimeoutMs?: number;
  /** The browser window's size (default 1400×900). */
  viewport?: { width: number; height: number };
}

/** Settings that keep a fresh profile quiet and deterministic: no welcome page, no network, trust asked. */
const DEFAULT_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.commandCenter.enabled': false,
  // VS Code 1.104 opens the (empty) chat view in the secondary side bar in every new workspace: 300 px of nothing
  // in each screenshot.
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': true,
  // Ask at every start, so each session answers the dialog explicitly instead of depending on earlier state.
  'security.workspace.trust.startupPrompt': 'always',
};

function safeName(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 120) || 'session'
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function requireCodeServer(): void {
  for (const file of [CODE_SERVER_ENTRY, CODE_SERVER_NODE]) {
    if (!fs.existsSync(file)) {
      throw new Error(
        `code-server is not installed (${file} is missing): run \`bash test/e2e/setup.sh\` first.`,
      );
    }
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: run \`bash test/e2e/setup.sh\` (or set E2E_CHROMIUM).`);
  }
}

/**
 * The environment without VS Code's own variables: run from a VS Code terminal, code-server would otherwise
 * hand its arguments to that VS Code (VSCODE_IPC_HOOK_CLI) instead of acting itself.
 */
function codeServerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VSCODE_')));
}

/** Runs code-server's CLI to completion (for --install-extension); rejects with its output on failure. */
function runCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(CODE_SERVER_NODE, [CODE_SERVER_ENTRY, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: codeServerEnv(),
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`code-server ${args.join(' ')} exited with ${code ?? signal}:\n${output}`));
    });
  });
}

/**
 * Installs .vsix files into a new extensions dir, in order (install an extension before the ones that depend
 * on it: code-server would otherwise look for the dependency in a gallery it cannot reach).
 */
export async function installExtensions(vsixFiles: string[]): Promise<string> {
  requireCodeServer();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'al-e2e-ext-'));
  const extensionsDir = path.join(root, 'extensions');
  const config = path.join(root, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const args = ['--config', config, '--user-data-dir', path.join(root, 'user-data')];
  args.push('--extensions-dir', extensionsDir);
  for (const vsix of vsixFiles) args.push('--install-extension', vsix);
  const output = await runCli(args, 120_000);
  for (const vsix of vsixFiles) {
    if (!output.includes(`'${path.basename(vsix)}' was successfully installed`)) {
      throw new Error(`code-server did not install ${vsix}:\n${output}`);
    }
  }
  return extensionsDir;
}

/** The parent of an extensions dir made by installExtensions(), for removal after the run. */
export function removeExtensionsDir(extensionsDir: string): void {
  fs.rmSync(path.dirname(extensionsDir), { recursive: true, force: true });
}

/** Every process group this module started, so an interrupted run still ends them. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class CodeServerSession {
  readonly name: string;
  private closed = false;
  private exited = false;
  private readonly logChunks: string[] = [];
  private readonly pageErrors: string[] = [];

  private constructor(
    readonly options: SessionOptions,
    readonly root: string,
    readonly userDataDir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly logFile: string,
  ) {
    this.name = safeName(options.name);
    child.stdout?.on('data', (d: Buffer) => this.onOutput(d));
    child.stderr?.on('data', (d: Buffer) => this.onOutput(d));
    child.once('exit', () => {
      this.exited = true;
      if (child.pid) liveGroups.delete(child.pid);
    });
  }

  private browser: Browser | undefined;
  private _page: Page | undefined;

  get page(): Page {
    if (!this._page) throw new Error('The workbench page is not open.');
    return this._page;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.options.workspace)}`;
  }

  /** Starts code-server on a free port and opens the workspace in Chromium, answering the trust dialog. */
  static async start(options: SessionOptions): Promise<CodeServerSession> {
    requireCodeServer();
    const timeoutMs = options.startTimeoutMs ?? 90_000;
    let session: CodeServerSession;
    // A port found free can be taken before code-server binds it: then it exits, and another port is tried.
    for (let attempt = 1; ; attempt++) {
      session = await CodeServerSession.spawn(options, await freePort());
      try {
        await session.waitForHttp(timeoutMs);
        break;
      } catch (err) {
        const portTaken = session.exited && /EADDRINUSE/.test(session.log());
        if (!portTaken || attempt >= 3) await session.saveDiagnostics('start-failed');
        await session.close();
        if (!portTaken || attempt >= 3) throw err;
      }
    }
    try {
      await session.openWorkbench(timeoutMs);
      return session;
    } catch (err) {
      await session.saveDiagnostics('start-failed');
      await session.close();
      throw err;
    }
  }

  /** Starts code-server with a fresh user-data-dir (the suite's settings in it) under a new temporary root. */
  private static async spawn(options: SessionOptions, port: number): Promise<CodeServerSession> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'al-e2e-cs-'));
    const userDataDir = path.join(root, 'user-data');
    fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
    fs.writeFileSync(
      path.join(userDataDir, 'User', 'settings.json'),
      JSON.stringify({ ...DEFAULT_SETTINGS, ...options.userSettings }, null, 2),
    );
    if (options.machineSettings) {
      fs.mkdirSync(path.join(userDataDir, 'Machine'), { recursive: true });
      fs.writeFileSync(
        path.join(userDataDir, 'Machine', 'settings.json'),
        JSON.stringify(options.machineSettings, null, 2),
      );
    }
    const config = path.join(root, 'config.yaml');
    fs.writeFileSync(config, 'auth: none\ncert: false\n');
    const logFile = path.join(root, 'code-server.log');
    const args = [
      '--config',
      config,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--extensions-dir',
      options.extensionsDir,
      '--user-data-dir',
      userDataDir,
      '--disable-telemetry',
      '--disable-update-check',
      options.workspace,
    ];
    // Its own process group (detached), so close() can end the extension host and every helper with it.
    const child = spawn(CODE_SERVER_NODE, [CODE_SERVER_ENTRY, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: codeServerEnv(),
    });
    if (child.pid) liveGroups.add(child.pid);
    const session = new CodeServerSession(options, root, userDataDir, port, child, logFile);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    return session;
  }

  private onOutput(data: Buffer): void {
    const text = data.toString();
    this.logChunks.push(text);
    try {
      fs.appendFileSync(this.logFile, text);
    } catch {
      // the log is a diagnostic only
    }
  }

  /** True when `pid` belongs to this session's code-server (its process group: the extension host included). */
  ownsProcess(pid: number): boolean {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may contain spaces, so split after its ')'.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      return pgrp === this.child.pid;
    } catch {
      return false;
    }
  }

  /** code-server's output so far (stdout and stderr). */
  log(): string {
    return this.logChunks.join('');
  }

  /** The last lines of code-server's output and the page's errors, for failure messages. */
  tail(lines = 30): string {
    const out = this.log().trimEnd().split('\n').slice(-lines).join('\n');
    const errors = this.pageErrors.slice(-10).join('\n');
    return `--- code-server output (last ${lines} lines) ---\n${out}${errors ? `\n--- page errors ---\n${errors}` : ''}`;
  }

  private async waitForHttp(timeoutMs: number): Promise<void> {
    await waitFor(
      `code-server to answer on 127.0.0.1:${this.port}`,
      async () => {
        if (this.exited) throw new Error(`code-server exited (code ${this.child.exitCode})`);
        const res = await fetch(`http://127.0.0.1:${this.port}/healthz`, {
          signal: AbortSignal.timeout(2000),
        });
        return res.ok;
      },
      { timeoutMs, intervalMs: 200, detail: () => this.tail() },
    );
  }

  private async openWorkbench(timeoutMs: number): Promise<void> {
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
    const context = await this.browser.newContext({
      viewport: this.options.viewport ?? { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    this._page = page;
    page.on('pageerror', (err) => this.pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.pageErrors.push(`console: ${msg.text()}`);
    });
    await page.goto(this.url, { timeout: timeoutMs });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
    await this.answerTrustDialog(this.options.trust ?? 'trust', timeoutMs);
  }

  /**
   * The Workspace Trust dialog appears at every start (startupPrompt "always"): answer it, and check that the
   * answer took (the Restricted Mode indicator is shown exactly when the workspace is not trusted).
   */
  private async answerTrustDialog(answer: TrustAnswer, timeoutMs: number): Promise<void> {
    const dialog = this.page.locator('.monaco-dialog-box');
    const label = answer === 'trust' ? /Yes, I trust the authors/ : /No, I don.t trust the authors/;
    await dialog.getByRole('button', { name: label }).click({ timeout: timeoutMs });
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    await this.restrictedModeIndicator().waitFor({
      state: answer === 'trust' ? 'hidden' : 'visible',
      timeout: 15_000,
    });
  }

  /** The status bar's "Restricted Mode" item, shown while the workspace is not trusted. */
  restrictedModeIndicator(): Locator {
    return this.page.locator('[id="status.workspaceTrust"]');
  }

  /** A status bar item by its id (`<publisher>.<name>.<item id>` for extensions' items). */
  statusBarItem(id: string): Locator {
    return this.page.locator(`.statusbar-item[id="${id}"]`);
  }

  /** The quick input (command palette, quick picks) text box. */
  private quickInput(): Locator {
    return this.page.locator('.quick-input-widget input.input');
  }

  /**
   * Opens the command palette with F1. Keys go to the focused element: take focus out of editors and webviews
   * (their iframes keep F1 to themselves), then press F1 until the palette shows; the first press can land while
   * the workbench is still moving focus after start-up.
   */
  private async openPalette(timeout: number): Promise<Locator> {
    const page = this.page;
    const input = this.quickInput();
    await waitFor(
      'the command palette to open on F1',
      async () => {
        await page.evaluate('document.activeElement && document.activeElement.blur()');
        await page.keyboard.press('F1');
        return input.waitFor({ state: 'visible', timeout: 3000 }).then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: timeout, intervalMs: 0, detail: () => this.tail(10) },
    );
    return input;
  }

  /**
   * Runs a command from the palette: F1, type its full title ("Category: Title"), Enter once the palette has
   * filtered down to it. Resolves when the palette has closed, or has turned into the command's own quick pick
   * (answer that with pickQuickItem()). `beforeEnter` runs just before Enter is pressed (e.g. to start a timer).
   */
  async runCommand(title: string, options: WaitOptions & { beforeEnter?: () => void } = {}): Promise<void> {
    const timeout = options.timeoutMs ?? 15_000;
    const page = this.page;
    const input = await this.openPalette(timeout);
    const typed = `>${title}`;
    await input.fill(typed);
    const row = page.locator('.quick-input-list .monaco-list-row.focused', { hasText: title });
    await row.first().waitFor({ state: 'visible', timeout });
    options.beforeEnter?.();
    await page.keyboard.press('Enter');
    await waitFor(
      `the palette to run "${title}"`,
      async () => !(await input.isVisible()) || (await input.inputValue()) !== typed,
      { timeoutMs: timeout },
    );
  }

  /**
   * What the command palette offers for `query` (its rows' accessible names: the label, then any description),
   * then closes it. Read once the palette has filtered what was typed: every row it announces (aria-setsize) is
   * rendered (a short list is never virtualised).
   */
  async paletteOffers(query: string, options: WaitOptions = {}): Promise<string[]> {
    const timeout = options.timeoutMs ?? 15_000;
    const page = this.page;
    const input = await this.openPalette(timeout);
    await input.fill(`>${query}`);
    const offers = await waitFor(
      `the palette to list its matches for "${query}"`,
      async () => {
        if ((await input.inputValue()) !== `>${query}`) return undefined;
        const rows = await page.locator('.quick-input-list .monaco-list-row').evaluateAll((els) =>
          els.map((e) => ({
            label: e.getAttribute('aria-label') ?? '',
            setSize: Number(e.getAttribute('aria-setsize')),
          })),
        );
        if (rows.length === 0 || rows.some((r) => r.setSize !== rows.length)) return undefined;
        return rows.map((r) => r.label);
      },
      { timeoutMs: timeout, detail: () => this.tail(10) },
    );
    await page.keyboard.press('Escape');
    await input.waitFor({ state: 'hidden', timeout });
    return offers;
  }

  /** An activity bar entry (a view container) by its title, e.g. "Agent Learning". */
  activityBarItem(title: string): Locator {
    return this.page
      .locator('.activitybar li.action-item')
      .filter({ has: this.page.locator(`a.action-label[aria-label="${title}"]`) });
  }

  /** Opens a view container from the activity bar as a user does, by clicking it (unless it is showing). */
  async openActivityBarView(title: string, options: WaitOptions = {}): Promise<void> {
    const timeout = options.timeoutMs ?? 15_000;
    const item = this.activityBarItem(title);
    await item.waitFor({ state: 'visible', timeout });
    if ((await item.getAttribute('aria-selected')) !== 'true') await item.click({ timeout });
    await waitFor(
      `the "${title}" view container to open from the activity bar`,
      async () => (await item.getAttribute('aria-selected')) === 'true',
      { timeoutMs: timeout, detail: () => this.tail(10) },
    );
  }

  /**
   * An editor tab by its title (a webview panel's tab carries the panel's title; a file's tab is named by the
   * file, then its state, e.g. "learning-config.json, preview").
   */
  editorTab(title: string): Locator {
    return this.page.locator(
      `.tabs-container .tab[aria-label="${title}"], .tabs-container .tab[aria-label^="${title}, "]`,
    );
  }

  /** Picks the item whose label matches in the quick pick that is showing (e.g. one a command opened). */
  async pickQuickItem(label: string | RegExp, options: WaitOptions = {}): Promise<void> {
    const timeout = options.timeoutMs ?? 15_000;
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout });
    await row.click({ timeout });
  }

  /** Waits for a notification toast whose text matches, and returns its text. */
  async waitForNotification(text: RegExp | string, options: WaitOptions = {}): Promise<string> {
    const toast = this.page.locator('.notification-toast', { hasText: text }).first();
    await toast.waitFor({ state: 'visible', timeout: options.timeoutMs ?? 15_000 });
    return (await toast.innerText()).trim();
  }

  /** The frame (webviews are nested iframes) that contains `selector`. */
  async findFrame(selector: string, options: WaitOptions = {}): Promise<Frame> {
    return waitFor(
      `a frame containing ${selector}`,
      async () => {
        for (const frame of this.page.frames()) {
          if (frame.isDetached()) continue;
          // A frame VS Code replaced without detaching it never gets a context: a query on it would wait forever.
          if (await withDeadline(frame.$(selector), 2000, 'a frame query').catch(() => null)) return frame;
        }
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? 20_000, intervalMs: options.intervalMs ?? 200 },
    );
  }

  /** A screenshot in test-artifacts/e2e/<session>-<label>.png; returns its path. */
  async screenshot(label: string): Promise<string> {
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, `${this.name}-${safeName(label)}.png`);
    await this.page.screenshot({ path: file, timeout: 15_000 });
    return file;
  }

  /**
   * On failure: a screenshot, code-server's output, the page's errors and VS Code's logs (extension host
   * included) under test-artifacts/e2e/<session>-<label>/. Never throws.
   */
  async saveDiagnostics(label: string): Promise<string> {
    const dir = path.join(ARTIFACTS_DIR, `${this.name}-${safeName(label)}`);
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'code-server.log'), this.log());
      fs.writeFileSync(path.join(dir, 'page-errors.log'), this.pageErrors.join('\n'));
      const logs = path.join(this.userDataDir, 'logs');
      if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dir, 'vscode-logs'), { recursive: true });
      const agentDir = path.join(this.options.workspace, '.e2e');
      if (fs.existsSync(agentDir)) fs.cpSync(agentDir, path.join(dir, 'e2e'), { recursive: true });
      if (this._page && !this._page.isClosed()) {
        await this._page.screenshot({ path: path.join(dir, 'screen.png'), timeout: 10_000 });
      }
    } catch {
      // diagnostics are best effort
    }
    return dir;
  }

  /** Closes the browser and ends code-server's process group (TERM, then KILL). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.browser) {
      await Promise.race([
        this.browser.close().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
      ]);
    }
    const pid = this.child.pid;
    if (pid && !this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pid, sig);
        } catch {
          // the group is gone
        }
      };
      signal('SIGTERM');
      const ended = await Promise.race([
        exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
      ]);
      if (!ended) {
        signal('SIGKILL');
        await exited;
      }
    }
    // The extension host may outlive code-server's main process: end whatever is left in the group, and wait
    // (bounded) until it is gone, so what a test does next (e.g. take over experience.db) meets no survivor.
    if (pid) {
      const groupAlive = () => {
        try {
          process.kill(-pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // nothing left
      }
      // A zombie that nobody reaps keeps the group "alive"; after the deadline it is harmless, so go on.
      await waitFor('code-server processes to end', () => !groupAlive(), {
        timeoutMs: 5000,
        intervalMs: 50,
      }).catch(() => undefined);
      liveGroups.delete(pid);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
