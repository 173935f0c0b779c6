// "Agent Learning: Check Setup": runs the checks of src/core/automation/setupCheck.ts and shows them as a quick
// pick, one line per finding; picking a line carries out its fix. A quick pick rather than a webview report: every
// line is one action, it is keyboard- and screen-reader-native, and it costs no page to load. The log gets the
// same lines, so the report stays readable after the pick closes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  checkSetup,
  type CheckStatus,
  type SetupCheckLine,
  type SetupFix,
} from '../core/automation/setupCheck';
import { describe } from '../core/errors';
import { agentDirOf } from '../core/workspace/agentDir';
import { defaultConfig } from '../core/workspace/config';
import type { AutomationHost } from './automationHost';
import type { LearningService } from './learningService';
import { TASK_TYPE } from './taskRunner';

const ICONS: Record<CheckStatus, string> = { ok: '$(pass)', warning: '$(warning)', problem: '$(error)' };
const LOG_MARKS: Record<CheckStatus, string> = { ok: '✓', warning: '⚠', problem: '✗' };

interface LineItem extends vscode.QuickPickItem {
  line: SetupCheckLine;
}

export async function runSetupCheck(
  service: LearningService,
  automation: AutomationHost,
  output: vscode.OutputChannel,
  extensionUri: vscode.Uri,
): Promise<void> {
  const lines = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Agent Learning: checking the setup…' },
    () => gather(service, automation, extensionUri),
  );
  output.appendLine('Agent Learning: Check Setup');
  for (const l of lines) output.appendLine(`  ${LOG_MARKS[l.status]} ${l.label}: ${l.detail}`);

  const problems = lines.filter((l) => l.status === 'problem').length;
  const warnings = lines.filter((l) => l.status === 'warning').length;
  const pick = await vscode.window.showQuickPick(
    lines.map((line): LineItem => ({
      label: `${ICONS[line.status]} ${line.label}`,
      description: line.fixLabel,
      detail: line.detail,
      line,
    })),
    {
      title:
        `Check Setup: ${count(problems, 'problem')}, ${count(warnings, 'warning')}` +
        (problems + warnings > 0 ? ' (pick a line to fix it)' : ''),
      matchOnDetail: true,
    },
  );
  if (pick?.line.fix) await applyFix(pick.line.fix, pick.line);
}

async function gather(
  service: LearningService,
  automation: AutomationHost,
  extensionUri: vscode.Uri,
): Promise<SetupCheckLine[]> {
  const tools = await automation.currentTools();
  const folder = service.folder?.uri.fsPath;
  const agentDir = folder && agentDirOf(folder);
  let config = defaultConfig();
  let roles: { role: string; exportedExamples: number }[] = [];
  if (service.hasPipeline && service.ready) {
    config = service.pipeline.getConfig().config;
    roles = service.pipeline.getStats().roles;
  }
  return checkSetup({
    python: tools.python,
    requirementsFile: path.join(extensionUri.fsPath, 'python', 'requirements.txt'),
    ollamaHost: tools.ollamaHost,
    ollamaPath: tools.ollama,
    // .agent/ holds the weights when it exists; checking it never creates it.
    dataDir: agentDir && fs.existsSync(agentDir) ? agentDir : (folder ?? process.cwd()),
    config,
    roles,
  });
}

async function applyFix(fix: SetupFix, line: SetupCheckLine): Promise<void> {
  try {
    switch (fix.kind) {
      case 'install':
        return await runTask('install', line.fixLabel ?? 'Install', fix.command, fix.args, false);
      case 'startOllama':
        return await runTask('ollama', 'Ollama', fix.command, fix.args, true);
      case 'pickInterpreter':
        if (vscode.extensions.getExtension('ms-python.python')) {
          await vscode.commands.executeCommand('python.setInterpreter');
        } else {
          await vscode.commands.executeCommand('workbench.action.openSettings', 'agentLearning.pythonPath');
        }
        return;
      case 'openSetting':
        return await vscode.commands.executeCommand('workbench.action.openSettings', fix.key);
      case 'openConfig':
        await vscode.commands.executeCommand('agentLearning.openConfig');
        void vscode.window.showInformationMessage(`Agent Learning: the key to change is "${fix.key}".`);
        return;
      case 'exportDataset':
        return await vscode.commands.executeCommand('agentLearning.exportDataset', fix.role);
    }
  } catch (err) {
    void vscode.window.showErrorMessage(
      `Agent Learning: ${line.fixLabel ?? 'the fix'} failed: ${describe(err)}`,
    );
  }
}

/** A terminal task: the program gets its arguments as a list (ProcessExecution), so no shell parses a path. */
async function runTask(
  step: string,
  title: string,
  command: string,
  args: string[],
  background: boolean,
): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const task = new vscode.Task(
    { type: TASK_TYPE, step, id: `${step}-${Date.now()}` },
    folder ?? vscode.TaskScope.Workspace,
    title,
    'Agent Learning',
    new vscode.ProcessExecution(command, args),
  );
  task.isBackground = background;
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated };
  await vscode.tasks.executeTask(task);
}

function count(n: number, word: string): string {
  return `${n} ${n === 1 ? word : `${word}s`}`;
}
