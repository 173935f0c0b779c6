// Extension entry: wires the learning core into VS Code and returns the agent API. Behaviour lives in the core
// and in the classes wired here; the sidebar, dashboard and training surfaces build on this.

import * as vscode from 'vscode';
import { LearningPipeline } from '../core/pipeline';
import { agentApi, type AgentLearningApi } from './api';
import { registerCommands } from './commands';
import { pickWorkspaceFolder } from './workspace';

export async function activate(context: vscode.ExtensionContext): Promise<AgentLearningApi | undefined> {
  const output = vscode.window.createOutputChannel('Agent Learning');
  context.subscriptions.push(output);
  const folder = pickWorkspaceFolder();
  if (!folder) {
    output.appendLine(
      'Open a folder to record agent runs; Agent Learning keeps its data in <folder>/.agent/.',
    );
    return undefined;
  }
  const pipeline = new LearningPipeline(folder.uri.fsPath, { log: (line) => output.appendLine(line) });
  pipeline.onProblem(
    (problem) => void vscode.window.showWarningMessage(`Agent Learning: ${problem.message}`),
  );
  context.subscriptions.push({ dispose: () => void pipeline.close() });
  registerCommands(context, pipeline, output);
  return agentApi(pipeline);
}

export function deactivate(): void {
  // Subscriptions (including the pipeline's close, which saves) are disposed by VS Code.
}
