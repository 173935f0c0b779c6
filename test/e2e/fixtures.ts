// Building blocks of the code-server scenarios: the packaged extensions, throwaway workspaces with the test
// agent's plan/result files, the CLI, an independent reader of experience.db, and `useVsCode()`, which gives a
// mocha `describe` its own workspace and VS Code session with clean-up and failure diagnostics.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ARTIFACTS_DIR, CodeServerSession, REPO_ROOT, type SessionOptions } from './codeServer';
import type { Plan, PlanResult } from './scenarios';
import { waitFor, waitForJson, type WaitOptions } from './wait';

export const MAIN_VSIX = path.join(REPO_ROOT, 'agent-learning.vsix');
export const AGENT_EXTENSION_DIR = path.join(REPO_ROOT, 'test/e2e/agent-extension');
/** Set by globalSetup.ts: the extensions dir with Agent Learning and the test agent installed. */
export const EXTENSIONS_DIR_ENV = 'AGENT_LEARNING_E2E_EXTENSIONS_DIR';

/** Packages the test agent with vsce into `outDir`; returns the .vsix path. */
export function packageAgentExtension(outDir: string): string {
  const out = path.join(outDir, 'agent-learning-e2e-agent.vsix');
  const vsce = path.join(REPO_ROOT, 'node_modules/@vscode/vsce/vsce');
  const run = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', out],
    { cwd: AGENT_EXTENSION_DIR, encoding: 'utf8', timeout: 120_000 },
  );
  if (run.status !== 0 || !fs.existsSync(out)) {
    throw new Error(
      `vsce could not package the test agent (${run.status ?? run.signal}):\n${run.stdout}${run.stderr}`,
    );
  }
  return out;
}

/** A throwaway workspace folder; the test agent reads `.e2e/plan*.json` and writes `.e2e/result*.json`. */
export class E2EWorkspace {
  private constructor(
    readonly dir: string,
    /** What remove() deletes: the folder itself, or the temporary folder it was made in. */
    private readonly root: string,
  ) {}

  /** A fresh folder under the temporary dir; named `folderName` (inside a unique parent) when given. */
  static create(name: string, folderName?: string): E2EWorkspace {
    const safe = name.replace(/[^A-Za-z0-9-]+/g, '-').slice(0, 40);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `al-e2e-ws-${safe}-`));
    if (!folderName) return new E2EWorkspace(root, root);
    const dir = path.join(root, folderName);
    fs.mkdirSync(dir);
    return new E2EWorkspace(dir, root);
  }

  get e2eDir(): string {
    return path.join(this.dir, '.e2e');
  }

  get agentDir(): string {
    return path.join(this.dir, '.agent');
  }

  /** A path under `.agent/`. */
  agentFile(...parts: string[]): string {
    return path.join(this.agentDir, ...parts);
  }

  /** Writes `.e2e/plan<suffix>.json` atomically, so the agent never reads half a plan. */
  writePlan(plan: Plan, suffix = ''): void {
    fs.mkdirSync(this.e2eDir, { recursive: true });
    const file = path.join(this.e2eDir, `plan${suffix}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(plan, null, 2));
    fs.renameSync(`${file}.tmp`, file);
  }

  /** What the agent wrote to `.e2e/agent.log` so far (for failure messages). */
  agentLog(): string {
    try {
      return fs.readFileSync(path.join(this.e2eDir, 'agent.log'), 'utf8');
    } catch {
      return '(the test agent wrote no log: did it activate?)';
    }
  }

  /** Waits for the test agent to have Agent Learning's API in hand (`.e2e/ready.json`). */
  async waitForAgent(
    options: WaitOptions & { detail?: () => string } = {},
  ): Promise<{ apiVersion: number; workspaceTrusted: boolean }> {
    const ready = await waitForJson<{
      ok: boolean;
      error?: string;
      apiVersion: number;
      workspaceTrusted: boolean;
    }>(path.join(this.e2eDir, 'ready.json'), {
      timeoutMs: 60_000,
      ...options,
      detail: () => `--- .e2e/agent.log ---\n${this.agentLog()}\n${options.detail?.() ?? ''}`,
    });
    if (!ready.ok) throw new Error(`The test agent could not get Agent Learning's API: ${ready.error}`);
    return ready;
  }

  /** Waits for `.e2e/result<suffix>.json`, the agent's report on `plan<suffix>.json`. */
  async waitForResult(
    suffix = '',
    options: WaitOptions & { detail?: () => string } = {},
  ): Promise<PlanResult> {
    return waitForJson<PlanResult>(path.join(this.e2eDir, `result${suffix}.json`), {
      timeoutMs: 60_000,
      ...options,
      detail: () => `--- .e2e/agent.log ---\n${this.agentLog()}\n${options.detail?.() ?? ''}`,
    });
  }

  /** The pid in `.agent/experience.db.lock`, if the file is there. */
  lockOwner(): number | undefined {
    try {
      const lock = JSON.parse(fs.readFileSync(this.agentFile('experience.db.lock'), 'utf8')) as {
        pid?: unknown;
      };
      return typeof lock.pid === 'number' ? lock.pid : undefined;
    } catch {
      return undefined;
    }
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The run ids in an experience.db, read with better-sqlite3 (independent of the extension's sql.js). The file
 * is replaced by rename on every save, so each read sees one whole save; undefined while it does not exist.
 */
export function runIdsInDb(dbFile: string): string[] | undefined {
  if (!fs.existsSync(dbFile)) return undefined;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM runs ORDER BY pk').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** One run's verdict and reward as saved in experience.db; undefined while the file or the run is not there. */
export function runInDb(
  dbFile: string,
  id: string,
): { human: 'accept' | 'reject' | null; reward: number } | undefined {
  if (!fs.existsSync(dbFile)) return undefined;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT human, reward FROM runs WHERE id = ?').get(id) as
      { human: 'accept' | 'reject' | null; reward: number } | undefined;
  } finally {
    db.close();
  }
}

/** Waits until experience.db holds every id in `ids` (the extension saves in batches, about once a second). */
export function waitForRunsInDb(dbFile: string, ids: string[], options: WaitOptions = {}): Promise<string[]> {
  let seen: string[] | undefined;
  return waitFor(
    `${ids.length} runs in ${dbFile}`,
    () => {
      seen = runIdsInDb(dbFile);
      return seen && ids.every((id) => seen!.includes(id)) ? seen : undefined;
    },
    {
      timeoutMs: 30_000,
      intervalMs: 200,
      ...options,
      detail: () => `ids in the file: ${JSON.stringify(seen)}`,
    },
  );
}

export interface VsCodeFixture {
  /** Set in the `before` hook. */
  readonly session: CodeServerSession;
  readonly workspace: E2EWorkspace;
  /** code-server's output tail and the page's errors, for failure messages (result waits add the agent's log). */
  detail(): string;
}

export interface UseVsCodeOptions extends Omit<SessionOptions, 'workspace' | 'extensionsDir' | 'name'> {
  /** Prepares the workspace before VS Code opens it (files in `.agent/`, a first plan, …). */
  seed?: (workspace: E2EWorkspace) => void | Promise<void>;
  /** Written as `.e2e/plan.json` once VS Code has started and its trust dialog is answered; the agent runs it then. */
  plan?: Plan;
  /** The workspace folder's name, as VS Code shows it (default: a unique temporary name). */
  folderName?: string;
  /** Wait for the test agent's `.e2e/ready.json` before the tests run (default true). */
  waitForAgent?: boolean;
}

/**
 * Registers hooks in the calling `describe`: a fresh workspace and VS Code session before its tests,
 * diagnostics (screenshot, logs, the workspace's .e2e and .agent) after each failed test, and clean-up after
 * all of them, failures included.
 */
export function useVsCode(name: string, options: UseVsCodeOptions = {}): VsCodeFixture {
  let session: CodeServerSession | undefined;
  let workspace: E2EWorkspace | undefined;
  let failed = false;
  const fixture: VsCodeFixture = {
    get session() {
      if (!session) throw new Error('The VS Code session did not start (see the before hook).');
      return session;
    },
    get workspace() {
      if (!workspace) throw new Error('The workspace was not created (see the before hook).');
      return workspace;
    },
    detail: () => session?.tail() ?? '(no VS Code session)',
  };

  before(async function () {
    const extensionsDir = process.env[EXTENSIONS_DIR_ENV];
    if (!extensionsDir)
      throw new Error(`${EXTENSIONS_DIR_ENV} is not set: run the suite through its .mocharc.json.`);
    workspace = E2EWorkspace.create(name, options.folderName);
    await options.seed?.(workspace);
    session = await CodeServerSession.start({
      trust: options.trust,
      userSettings: options.userSettings,
      machineSettings: options.machineSettings,
      startTimeoutMs: options.startTimeoutMs,
      viewport: options.viewport,
      name,
      workspace: workspace.dir,
      extensionsDir,
    });
    // Only once the trust dialog is answered: an agent that ran its plan before would see Workspace Trust still
    // pending (isTrusted false) in a workspace about to be trusted.
    if (options.plan) workspace.writePlan(options.plan);
    if (options.waitForAgent ?? true) {
      try {
        await workspace.waitForAgent({ detail: () => session!.tail() });
      } catch (err) {
        failed = true;
        await session.saveDiagnostics('agent-not-ready');
        throw err;
      }
    }
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !session) return;
    failed = true;
    const dir = await session.saveDiagnostics(this.currentTest.title);
    if (workspace && fs.existsSync(workspace.agentDir)) {
      fs.cpSync(workspace.agentDir, path.join(dir, 'agent-dir'), { recursive: true });
    }
  });

  after(async function () {
    await session?.close();
    if (!workspace) return;
    if (failed || process.env.E2E_KEEP_WORKSPACES === '1') {
      process.stdout.write(`      (workspace kept for inspection: ${workspace.dir})\n`);
    } else {
      workspace.remove();
    }
  });

  return fixture;
}

export { ARTIFACTS_DIR };
