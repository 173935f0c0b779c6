// The suite that @vscode/test-electron runs inside VS Code's extension host (see ../runTest.ts for how to run
// it). It drives Agent Learning's API directly, through the same plan runner and checks as the code-server
// suite's test agent, for the one scenario named in AGENT_LEARNING_E2E_SCENARIO.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import initSqlJs from 'sql.js';
import * as vscode from 'vscode';
import { runPlan } from '../../agent-extension/planRunner';
import { recordedId, runCli } from '../../cli';
import {
  EXPORT_COMMAND,
  EXPORT_RUNS,
  FIVE_RUNS,
  INBOX_FIRST,
  INBOX_WAIT,
  assertExportedGoodRuns,
  assertFiveRunsRecorded,
  assertInboxRunSeen,
  assertPlanOk,
  cliRunLine,
  type Plan,
  type PlanResult,
} from '../../scenarios';
import { waitFor } from '../../wait';
import { ELECTRON_SCENARIOS, type ElectronScenario } from './scenarioNames';

const AGENT_LEARNING_ID = 'agent-learning.agent-learning';

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'VS Code was started without a workspace folder');
  return folder.uri.fsPath;
}

async function agentLearningApi(): Promise<unknown> {
  const extension = vscode.extensions.getExtension(AGENT_LEARNING_ID);
  assert.ok(extension, `${AGENT_LEARNING_ID} is not loaded`);
  const api: unknown = await extension.activate();
  assert.ok(api, `${AGENT_LEARNING_ID} activated without returning its API`);
  return api;
}

async function runAgentPlan(plan: Plan): Promise<PlanResult> {
  return runPlan(await agentLearningApi(), plan, {
    executeCommand: (id, ...args) => vscode.commands.executeCommand(id, ...args),
  });
}

async function runIdsInDb(dbFile: string): Promise<string[] | undefined> {
  if (!fs.existsSync(dbFile)) return undefined;
  const SQL = await initSqlJs({ locateFile: (file) => require.resolve(`sql.js/dist/${file}`) });
  const db = new SQL.Database(fs.readFileSync(dbFile));
  try {
    return (db.exec('SELECT id FROM runs ORDER BY pk')[0]?.values ?? []).map((row) => String(row[0]));
  } finally {
    db.close();
  }
}

function cli(args: string[], stdin: string) {
  return runCli(args, stdin, {
    node: process.env.AGENT_LEARNING_E2E_NODE ?? 'node',
    cli: process.env.AGENT_LEARNING_E2E_CLI,
  });
}

const SCENARIOS: Record<ElectronScenario, [title: string, test: () => Promise<void>][]> = {
  'api-record': [
    [
      'records five runs and a verdict through the API and saves them to experience.db',
      async () => {
        const result = await runAgentPlan(FIVE_RUNS);
        assertFiveRunsRecorded(result);
        const ids = result.runs.map((r) => r.id);
        const dbFile = path.join(workspaceDir(), '.agent', 'experience.db');
        await waitFor(`${ids.length} runs in ${dbFile}`, async () => {
          const inDb = await runIdsInDb(dbFile);
          return inDb && ids.every((id) => inDb.includes(id));
        });
      },
    ],
  ],
  'command-export': [
    [
      'exports exactly the high-reward runs with the Export SFT Dataset command',
      async () => {
        const result = await runAgentPlan({
          ...EXPORT_RUNS,
          commands: [{ id: EXPORT_COMMAND.id, args: ['coder'] }],
        });
        assertPlanOk(result);
        const agentDir = path.join(workspaceDir(), '.agent');
        assert.match(fs.readFileSync(path.join(agentDir, 'last-export-coder.txt'), 'utf8'), /^3 examples$/m);
        assertExportedGoodRuns(
          fs.readFileSync(path.join(agentDir, 'sft', 'coder_sft.jsonl'), 'utf8'),
          EXPORT_RUNS,
        );
      },
    ],
  ],
  'cli-inbox': [
    [
      'counts a run the CLI wrote to the inbox, without a reload',
      async () => {
        const first = await runAgentPlan(INBOX_FIRST);
        assertPlanOk(first);
        const cliRunId = recordedId(
          await cli(['record', '--workspace', workspaceDir()], cliRunLine(1) + '\n'),
        );
        assertInboxRunSeen(await runAgentPlan(INBOX_WAIT), cliRunId);
      },
    ],
  ],
};

/** Entry point that VS Code calls with --extensionTestsPath. */
export function run(): Promise<void> {
  const scenario = process.env.AGENT_LEARNING_E2E_SCENARIO as ElectronScenario | undefined;
  if (!scenario || !ELECTRON_SCENARIOS.includes(scenario)) {
    return Promise.reject(
      new Error(`AGENT_LEARNING_E2E_SCENARIO must be one of ${ELECTRON_SCENARIOS.join(', ')}`),
    );
  }
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: true });
  const suite = Mocha.Suite.create(mocha.suite, `Agent Learning in VS Code ${vscode.version}: ${scenario}`);
  for (const [title, test] of SCENARIOS[scenario]) suite.addTest(new Mocha.Test(title, test));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
}
