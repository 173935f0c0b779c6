// Extension entry: creates the services, registers views, commands and the status bar, returns the agent API.
// The database opens in the background; nothing here waits for it.

import * as vscode from 'vscode';
import { agentApi, type AgentLearningApi } from './api';
import { AgentDirOffer } from './agentDirOffer';
import { AutomationHost } from './automationHost';
import { ChatModelProvider } from './chatModelProvider';
import { putCliOnPath } from './cliOnPath';
import { handleWebviewMessage, registerCommands } from './commands';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboardPanel';
import { EditorSignals } from './editorSignals';
import { GatewayHost } from './gatewayHost';
import { LearningService } from './learningService';
import { registerReviewCommands } from './reviewCommands';
import { ReviewQueue } from './reviewQueue';
import { ReviewQueueModel } from './reviewQueueModel';
import { RunNotifier } from './runNotifier';
import { RUN_VIEW_TYPE, RunPanels } from './runPanels';
import { runSetupCheck } from './setupCheckCommand';
import { SettingsDocumentProvider } from './settingsDocument';
import { resetSettingCommand } from './settingsReset';
import { RESET_ITEM_COMMAND, SettingsView, type SettingsItem } from './settingsView';
import { SIDEBAR_VIEW_ID, SidebarProvider } from './sidebarProvider';
import { StatusBar } from './statusBar';
import { TrainingReadiness } from './trainingReadiness';
import { VerdictDesk } from './verdictHistory';

let service: LearningService | undefined;

export function activate(context: vscode.ExtensionContext): AgentLearningApi {
  const started = performance.now();
  const output = vscode.window.createOutputChannel('Agent Learning');
  service = new LearningService(output, context.workspaceState);
  const learning = service;
  const onMessage = (message: Parameters<typeof handleWebviewMessage>[1]) =>
    handleWebviewMessage(learning, message);
  const automation = new AutomationHost(learning, output, context.extensionUri);
  const readiness = new TrainingReadiness(automation, context.extensionUri);
  const dashboard = new DashboardPanel(
    context.extensionUri,
    learning,
    output,
    onMessage,
    automation.onDidChangeTraining,
    readiness,
  );
  const sidebar = new SidebarProvider(context.extensionUri, learning, output, onMessage);
  context.subscriptions.push(
    output,
    learning,
    dashboard,
    sidebar,
    automation,
    readiness,
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW_ID, sidebar),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, dashboard),
    new StatusBar(learning),
    new RunNotifier(learning),
    new EditorSignals(learning, output),
    new AgentDirOffer(learning, context.workspaceState, output),
    vscode.workspace.onDidGrantWorkspaceTrust(() => learning.notifyChanged()),
  );
  registerCommands(context, learning, dashboard, output, automation);
  const desk = new VerdictDesk(() => learning.pipeline);
  const queue = new ReviewQueue(
    learning,
    new ReviewQueueModel((filter, options) =>
      learning.hasPipeline ? learning.pipeline.listRuns(filter, options) : { runs: [], next: undefined },
    ),
  );
  const runs = new RunPanels(context.extensionUri, learning, output, desk, queue.model, onMessage);
  context.subscriptions.push(queue, runs, vscode.window.registerWebviewPanelSerializer(RUN_VIEW_TYPE, runs));
  registerReviewCommands(context, learning, queue, runs, desk);
  const gateway = new GatewayHost(learning, context.secrets, output);
  context.subscriptions.push(
    gateway,
    vscode.commands.registerCommand('agentLearning.toggleGateway', () => gateway.toggle()),
    vscode.commands.registerCommand('agentLearning.setGatewayApiKey', () => gateway.setApiKey()),
    vscode.commands.registerCommand('agentLearning.checkSetup', () =>
      runSetupCheck(learning, automation, output, context.extensionUri),
    ),
  );
  const chatModels = new ChatModelProvider(learning, gateway, output);
  context.subscriptions.push(chatModels);
  const settings = new SettingsView(learning);
  const settingsDocument = new SettingsDocumentProvider(learning);
  context.subscriptions.push(
    settings,
    settingsDocument,
    vscode.commands.registerCommand('agentLearning.showSettingsInForce', () => settingsDocument.show()),
    vscode.commands.registerCommand('agentLearning.resetSetting', async () => {
      await resetSettingCommand(learning);
      settings.refresh();
    }),
    vscode.commands.registerCommand(RESET_ITEM_COMMAND, async (item: SettingsItem) => {
      await resetSettingCommand(learning, item);
      settings.refresh();
    }),
  );
  learning.start();
  putCliOnPath(context, output);
  void gateway.applySetting();
  chatModels.register();
  const api = agentApi(learning);
  // Our own work before any view asks for data (the database opens in the background); read by test/bench/ui.ts.
  output.appendLine(`Agent Learning: activated in ${(performance.now() - started).toFixed(1)} ms`);
  return api;
}

/** VS Code waits for this promise: the final save of the database happens here. */
export async function deactivate(): Promise<void> {
  await service?.close();
  service = undefined;
}
