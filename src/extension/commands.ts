// Command-palette commands over the pipeline. Agents that only call commands use recordRun/recordFeedback.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import type { LearningPipeline } from '../core/pipeline';
import type { RunResult, Verdict } from '../core/runResult';

export function registerCommands(
  context: vscode.ExtensionContext,
  pipeline: LearningPipeline,
  output: vscode.OutputChannel,
): void {
  const register = (id: string, fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register('agentLearning.showLog', () => output.show(true));

  register(
    'agentLearning.recordRun',
    (taskSlug: string, modelId: string, promptId: string, result: RunResult, role?: string) =>
      pipeline.recordRun(taskSlug, modelId, promptId, result, role),
  );

  register('agentLearning.recordFeedback', (runId: string, verdict: Verdict) =>
    pipeline.recordFeedback(runId, verdict),
  );

  register('agentLearning.exportDataset', async (roleArg?: string) => {
    await pipeline.whenReady();
    const roles = pipeline.roles();
    const role =
      roleArg ??
      (roles.length > 1
        ? await vscode.window.showQuickPick(roles, { title: 'Export SFT dataset for which role?' })
        : roles[0]);
    if (!role) {
      void vscode.window.showInformationMessage('Agent Learning: no runs recorded yet, nothing to export.');
      return undefined;
    }
    try {
      const result = await pipeline.exportDataset(role);
      void vscode.window.showInformationMessage(`Agent Learning: exported ${result.count} ${role} examples.`);
      return result;
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: export failed: ${describe(err)}`);
      return undefined;
    }
  });
}
