// Command-palette commands (category "Agent Learning") and what the webviews' buttons ask for.

import * as fs from 'node:fs';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import * as vscode from 'vscode';
import { describe } from '../core/errors';
import { configFile } from '../core/workspace/agentDir';
import type { RunResult, Verdict } from '../core/learning/runResult';
import type { WebviewCommand, WebviewMessage } from '../protocol';
import type { AutomationHost } from './automationHost';
import type { DashboardPanel } from './dashboardPanel';
import type { LearningService } from './learningService';

export const COMMAND_IDS: Record<WebviewCommand, string> = {
  export: 'agentLearning.exportDataset',
  train: 'agentLearning.train',
  deploy: 'agentLearning.deploy',
  openDashboard: 'agentLearning.openDashboard',
  openConfig: 'agentLearning.openConfig',
  showLog: 'agentLearning.showLog',
};

export function registerCommands(
  context: vscode.ExtensionContext,
  service: LearningService,
  dashboard: DashboardPanel,
  output: vscode.OutputChannel,
  automation: AutomationHost,
): void {
  const register = (id: string, fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register('agentLearning.showLog', () => output.show(true));
  register('agentLearning.openDashboard', () => dashboard.show());

  register(
    'agentLearning.recordRun',
    (taskSlug: string, modelId: string, promptId: string, result: RunResult, role?: string) =>
      service.openPipeline().recordRun(taskSlug, modelId, promptId, result, role),
  );
  register('agentLearning.recordFeedback', (runId: string, verdict: Verdict) =>
    service.openPipeline().recordFeedback(runId, verdict),
  );

  register('agentLearning.exportDataset', async (roleArg?: string) => {
    // No .agent/ means no runs: nothing to export, and no reason to create it.
    const pipeline = service.hasPipeline ? service.pipeline : undefined;
    await pipeline?.whenReady();
    const roles = pipeline?.roles() ?? [];
    const role =
      roleArg ??
      (roles.length > 1
        ? await vscode.window.showQuickPick(roles, { title: 'Export the SFT dataset of which role?' })
        : roles[0]);
    if (!role || !pipeline) {
      void vscode.window.showInformationMessage('Agent Learning: no runs recorded yet, nothing to export.');
      return undefined;
    }
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Exporting the ${role} SFT dataset…` },
        () => pipeline.exportDataset(role),
      );
      const open = 'Open File';
      void vscode.window
        .showInformationMessage(`Agent Learning: exported ${result.count} ${role} examples.`, open)
        .then(async (choice) => {
          if (choice === open) await vscode.window.showTextDocument(vscode.Uri.file(result.file));
        });
      return result;
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: export failed: ${describe(err)}`);
      return undefined;
    }
  });

  // Trust is checked again inside: a command can be run from places that ignore `enablement`.
  register('agentLearning.train', (role?: string, tier?: string) => automation.train(role, tier));
  register('agentLearning.deploy', (role?: string, tier?: string) => automation.deploy(role, tier));
  register('agentLearning.rollback', (role?: string, tier?: string) => automation.rollback(role, tier));

  // With a key (`autoDeploy.method`, from a failure's Open Setting), the file opens with that key selected.
  register('agentLearning.openConfig', async (key?: unknown) => {
    if (!service.folder) return;
    // The user asks for the file: .agent/ is created now if need be (the pipeline says so, and offers .gitignore).
    const pipeline = service.openPipeline();
    await pipeline.whenReady();
    const file = configFile(pipeline.agentDir);
    if (!fs.existsSync(file)) {
      // Only on the user's request, and only when there is none: an empty object means "all defaults".
      fs.writeFileSync(file, '{\n}\n', { flag: 'wx' });
    }
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(file));
    if (typeof key === 'string' && key !== '') revealKey(editor, key);
  });

  register('agentLearning.selectFolder', async () => {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const pick = await vscode.window.showQuickPick(
      folders.map((f) => ({
        label: f.name,
        description: f.uri.fsPath,
        picked: f === service.folder,
        folder: f,
      })),
      { title: 'Record and learn in which folder?' },
    );
    if (pick) await service.switchTo(pick.folder);
  });
}

/** What the sidebar's and dashboard's buttons ask the host for. */
export function handleWebviewMessage(service: LearningService, message: WebviewMessage): unknown {
  switch (message.type) {
    case 'feedback':
      return service.openPipeline().recordFeedback(message.runId, message.verdict);
    case 'command':
      return vscode.commands.executeCommand(COMMAND_IDS[message.command]);
    case 'openRun':
      return vscode.commands.executeCommand('agentLearning.openRun', message.runId);
    case 'copy':
      return vscode.env.clipboard.writeText(message.text);
    // The run view's own messages; no other page sends them.
    case 'clearVerdict':
    case 'undoVerdict':
    case 'navigate':
    case 'ready':
      return undefined;
  }
}

/** Selects a key of the JSON file in the editor, or says it is not set there (so its default is in force). */
function revealKey(editor: vscode.TextEditor, key: string): void {
  const root = parseTree(editor.document.getText());
  const node = root && findNodeAtLocation(root, key.split('.'));
  const property = node?.parent;
  if (!property || property.type !== 'property') {
    void vscode.window.showInformationMessage(
      `Agent Learning: "${key}" is not set in .agent/learning-config.json, so its default is in force; add it ` +
        'there to change it (the completion lists its values).',
    );
    return;
  }
  const range = new vscode.Range(
    editor.document.positionAt(property.offset),
    editor.document.positionAt(property.offset + property.length),
  );
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}
