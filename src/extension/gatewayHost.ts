// The gateway inside VS Code: started when `agentLearning.gateway.enabled` is on (or by the Start/Stop command),
// recording into the current folder's pipeline, its upstream key in SecretStorage, its state in the status bar.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import { Gateway, type GatewayRecorder } from '../core/gateway/gateway';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

/** The SecretStorage key of the OpenAI-compatible upstream's API key. */
const API_KEY_SECRET = 'agentLearning.gateway.apiKey';

export class GatewayHost extends Disposable {
  private gateway: Gateway | undefined;
  private apiKey: string | undefined;
  private readonly item = this._register(
    vscode.window.createStatusBarItem('agentLearning.gateway', vscode.StatusBarAlignment.Right, 99),
  );

  constructor(
    private readonly service: LearningService,
    private readonly secrets: vscode.SecretStorage,
    private readonly output: vscode.OutputChannel,
  ) {
    super();
    this.item.name = 'Agent Learning Gateway';
    this.item.command = 'agentLearning.toggleGateway';
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('agentLearning.gateway.enabled')) void this.applySetting();
      }),
    );
    this._register(secrets.onDidChange((e) => e.key === API_KEY_SECRET && void this.loadKey()));
    this.update();
  }

  /** Starts the gateway when the setting says so; called once the service has a folder. */
  async applySetting(): Promise<void> {
    const enabled = vscode.workspace.getConfiguration('agentLearning').get<boolean>('gateway.enabled', false);
    if (enabled) await this.start();
    else await this.stop();
  }

  async toggle(): Promise<void> {
    if (this.gateway) await this.stop();
    else await this.start();
  }

  async start(): Promise<void> {
    if (this.gateway || !this.service.folder) return;
    if (!vscode.workspace.isTrusted) {
      // The workspace's config names the upstream the key is sent to, and the address to bind.
      void vscode.window.showWarningMessage(
        'Agent Learning: the gateway starts only in a trusted workspace (its config says where your API key goes).',
      );
      return;
    }
    await this.loadKey();
    const service = this.service;
    // Through the service at each call, so a switch of folder records into the new folder's pipeline. Starting
    // the gateway is a request to record: it opens the pipeline, creating .agent/ if need be.
    const recorder: GatewayRecorder = {
      recordRun: (...args) => service.openPipeline().recordRun(...args),
      selectModel: (...args) => service.openPipeline().selectModel(...args),
      selectPrompt: (role) => service.openPipeline().selectPrompt(role),
      getConfig: () => service.openPipeline().getConfig(),
    };
    const gateway = new Gateway({
      recorder,
      ollamaHost:
        vscode.workspace.getConfiguration('agentLearning', service.folder).get<string>('ollamaHost') ||
        undefined,
      apiKey: () => this.apiKey,
      log: (line) => this.output.appendLine(line),
    });
    try {
      await gateway.start();
      this.gateway = gateway;
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: ${describe(err)}`);
    }
    this.update();
  }

  async stop(): Promise<void> {
    const gateway = this.gateway;
    this.gateway = undefined;
    this.update();
    await gateway?.stop();
  }

  /** Asks for the OpenAI-compatible upstream's key and keeps it in SecretStorage (empty: remove it). */
  async setApiKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'API key of the OpenAI-compatible upstream (gateway.openaiBaseUrl)',
      prompt:
        'Kept in VS Code’s secret storage; never written to .agent/ or the log. Leave empty to remove it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return;
    if (key === '') await this.secrets.delete(API_KEY_SECRET);
    else await this.secrets.store(API_KEY_SECRET, key);
    await this.loadKey();
  }

  override dispose(): void {
    void this.stop();
    super.dispose();
  }

  private async loadKey(): Promise<void> {
    this.apiKey = (await this.secrets.get(API_KEY_SECRET)) || undefined;
  }

  private update(): void {
    const url = this.gateway?.url;
    if (url) {
      this.item.text = `$(radio-tower) Gateway :${this.gateway!.port}`;
      this.item.tooltip = `Agent Learning gateway on ${url} (OpenAI: ${url}/v1, Ollama: ${url}). Click to stop.`;
      this.item.show();
    } else if (vscode.workspace.getConfiguration('agentLearning').get<boolean>('gateway.enabled', false)) {
      this.item.text = '$(debug-disconnect) Gateway off';
      this.item.tooltip = 'The Agent Learning gateway is not running. Click to start it.';
      this.item.show();
    } else {
      this.item.hide();
    }
  }
}
